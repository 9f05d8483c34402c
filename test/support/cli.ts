/**
 * Runs the `portico` command as a script would: a separate process, a given environment and
 * standard input, never blocking this process's event loop (in-process servers must answer).
 */
import { spawn } from 'node:child_process';

const bin = new URL('../../bin/portico.js', import.meta.url).pathname;

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export async function runPortico(args: string[], env: Record<string, string>, stdin = ''): Promise<CliRun> {
  const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(stdin);
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { status, stdout, stderr };
}
