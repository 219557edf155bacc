// A machine graph as a Mermaid `stateDiagram-v2`, for the docs (GitHub renders it).
import type { GraphState, MachineGraph } from './graph.js';

/** Mermaid ids must be unique across the diagram: the state's path with `_` (`running_working`). */
const mid = (g: MachineGraph, id: string) => (id === g.id ? '[*]' : id.slice(g.id.length + 1).replace(/\./g, '_'));
/** Mermaid's label syntax has no escapes: keep to characters that cannot end or nest a label. */
const text = (s: string) => s.replace(/;/g, ',').replace(/:/g, ' -').replace(/[{}#"]/g, ' ').replace(/\s+/g, ' ').trim();

export function toMermaid(g: MachineGraph): string {
  const lines = ['stateDiagram-v2', '  direction LR'];
  const emit = (s: GraphState, indent: string) => {
    for (const c of s.children) {
      const id = mid(g, c.id);
      if (c.children.length > 0) {
        lines.push(`${indent}state "${c.key}" as ${id} {`);
        emit(c, `${indent}  `);
        lines.push(`${indent}}`);
      } else {
        lines.push(`${indent}state "${c.key}" as ${id}`);
      }
      if (c.description) lines.push(`${indent}${id} : ${text(c.description)}`);
    }
    if (s.initial) lines.push(`${indent}[*] --> ${mid(g, s.initial)}`);
    for (const c of s.children) if (c.type === 'final') lines.push(`${indent}${mid(g, c.id)} --> [*]`);
  };
  emit(g.root, '  ');
  for (const t of g.transitions) {
    const label = `${t.event}${t.guard ? ` [${t.guard}]` : ''}${t.actions.length ? ` / ${t.actions.join(', ')}` : ''}`;
    const source = mid(g, t.source);
    lines.push(`  ${source} --> ${t.target ? mid(g, t.target) : source} : ${text(label)}`);
  }
  return `${lines.join('\n')}\n`;
}
