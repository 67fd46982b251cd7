/**
 * What the page and the console server (cli/console-server.ts) agree on: the header the page
 * sends this run's key in. One place, imported by both.
 */
export const KEY_HEADER = 'x-ami-bakery-console-key';
