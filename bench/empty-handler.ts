/** The baseline for cold-start figures: a handler that loads nothing. */
export const handler = async (): Promise<object> => Promise.resolve({});
