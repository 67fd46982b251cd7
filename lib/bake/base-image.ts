import { DescribeImagesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { isAwsError, NotFoundError } from '../errors';
import type { Pipeline } from '../pipeline/schema';

export interface BaseImage {
  readonly imageId: string;
  readonly rootDeviceName: string;
  readonly name?: string;
}

/**
 * Finds the pipeline's base image now: the AMI an SSM public parameter names, or the newest
 * available image matching the filter.
 * @throws NotFoundError when the parameter or a matching available image does not exist.
 */
export async function resolveBaseImage(
  pipeline: Pipeline,
  clients: { readonly ec2: Pick<EC2Client, 'send'>; readonly ssm: Pick<SSMClient, 'send'> },
): Promise<BaseImage> {
  const source = pipeline.baseImage;
  let imageId: string | undefined;
  if ('ssmParameter' in source) {
    try {
      const parameter = await clients.ssm.send(new GetParameterCommand({ Name: source.ssmParameter }));
      imageId = parameter.Parameter?.Value;
    } catch (error) {
      if (isAwsError(error, 'ParameterNotFound')) {
        throw new NotFoundError(`Base image parameter ${source.ssmParameter} does not exist`, {
          cause: error,
        });
      }
      throw error;
    }
  }
  const described = await clients.ec2.send(
    new DescribeImagesCommand(
      imageId
        ? { ImageIds: [imageId] }
        : {
            Owners: 'filter' in source ? source.filter.owners : [],
            Filters: [
              { Name: 'name', Values: ['filter' in source ? source.filter.name : ''] },
              { Name: 'state', Values: ['available'] },
              { Name: 'architecture', Values: ['filter' in source ? source.filter.architecture : 'x86_64'] },
            ],
          },
    ),
  );
  const newest = [...(described.Images ?? [])].sort((a, b) =>
    (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''),
  )[0];
  if (!newest?.ImageId) throw new NotFoundError(`No available base image for pipeline ${pipeline.name}`);
  return { imageId: newest.ImageId, rootDeviceName: newest.RootDeviceName ?? '/dev/xvda', name: newest.Name };
}
