// `npm run machines:export`: every machine of the registry as Mermaid and as JSON under
// docs/machines/, and the Mermaid diagrams into docs/visualizer.md (between its markers).
// A unit test checks the committed files equal a fresh export, so the docs follow the machines.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { machines } from '../../machines/index.js';
import { machineGraph } from './graph.js';
import { toMermaid } from './mermaid.js';

export const DOCS = join(import.meta.dirname, '..', '..', 'docs');
const START = '<!-- machines:start (written by npm run machines:export) -->';
const END = '<!-- machines:end -->';

/** File name → content, for every machine; plus the visualizer doc's new text. */
export function exportMachines(visualizerDoc: string): { files: Map<string, string>; doc: string } {
  const files = new Map<string, string>();
  const sections: string[] = [];
  for (const [name, machine] of Object.entries(machines)) {
    const graph = machineGraph(machine);
    const mmd = toMermaid(graph);
    files.set(`${name}.mmd`, mmd);
    files.set(`${name}.json`, `${JSON.stringify(graph, null, 2)}\n`);
    sections.push(`### ${name} (\`machines/${name}.machine.ts\`)\n\n\`\`\`mermaid\n${mmd}\`\`\`\n`);
  }
  const a = visualizerDoc.indexOf(START);
  const b = visualizerDoc.indexOf(END);
  if (a < 0 || b < a) throw new Error('docs/visualizer.md lacks the machines markers');
  const doc = `${visualizerDoc.slice(0, a + START.length)}\n\n${sections.join('\n')}\n${visualizerDoc.slice(b)}`;
  return { files, doc };
}

if (process.argv[1] === import.meta.filename) {
  const docPath = join(DOCS, 'visualizer.md');
  const { files, doc } = exportMachines(readFileSync(docPath, 'utf8'));
  mkdirSync(join(DOCS, 'machines'), { recursive: true });
  for (const [name, content] of files) writeFileSync(join(DOCS, 'machines', name), content);
  writeFileSync(docPath, doc);
  console.info(`wrote ${[...files.keys()].map((f) => `docs/machines/${f}`).join(', ')} and docs/visualizer.md`);
}
