// Entry point of the emulator's IAM evaluator process (started by emulator/server.py).
import { serve } from './authorizer';

await serve(process.stdin, process.stdout);
