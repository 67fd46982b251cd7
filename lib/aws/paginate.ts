/**
 * The SDK's paginators take a whole client, yet only ever call its `send` (`createPaginator` in
 * @smithy/core): the one place a narrow client (`Pick<Client, 'send'>`, as the engine holds them)
 * is handed to one.
 */
export function forPaginator<C>(client: Pick<C & { send: unknown }, 'send'>): C {
  return client as C;
}
