// `npm start` as a real process on the embedded database, from the sources (`npm run dev`'s entry
// point: one node process with tsx as its loader, so a SIGKILL reaches the server itself). The
// compiled one (dist/, what `npm start` runs) is started in tests/package.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const root = join(import.meta.dirname, '..', '..');

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Its stdout lines and stderr chunks, as they came. */
  lines: string[];
  exited: Promise<number | null>;
}

/** Starts the server on `dataDir` (its own JWT secret kept there) and resolves once it logged its address; `env` adds settings. */
export function startServerProcess(dataDir: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', AGENTWIRE_DATA_DIR: dataDir, DATABASE_URL: '', JWT_SECRET: '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      const m = /agentwire listening on (http:\/\/[\d.]+:\d+)/.exec(line);
      if (m?.[1]) resolve({ child, url: m[1], lines, exited });
    });
    child.stderr!.on('data', (d: Buffer) => lines.push(d.toString()));
    void exited.then((code) => reject(new Error(`exited with ${code}: ${lines.join('\n')}`)));
  });
}
