// The visualizer's graphs come from the machines themselves, and the exported docs match them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { machines } from '../../../machines/index.js';
import { activeStateIds, allStates, machineGraph } from '../../../src/debug/graph.js';
import { DOCS, exportMachines } from '../../../src/debug/export.js';
import { toMermaid } from '../../../src/debug/mermaid.js';
import { replayEvents } from '../../../src/debug/replay.js';
import type { RunEvent } from '../../../src/protocol/events.js';

describe('machine graphs', () => {
  it('holds every state and every transition of the run machine, with events, guards and targets', () => {
    const g = machineGraph(machines.run);
    expect(allStates(g).map((s) => s.id)).toEqual([
      'run', 'run.queued', 'run.running', 'run.running.working', 'run.running.toolCall', 'run.waiting', 'run.completed', 'run.failed', 'run.cancelled',
    ]);
    expect(g.root.initial).toBe('run.queued');
    expect(allStates(g).find((s) => s.id === 'run.running')?.initial).toBe('run.running.working');
    expect(g.transitions).toContainEqual({
      id: 'run.running.working:tool_executing:0', source: 'run.running.working', target: 'run.running.toolCall',
      event: 'tool_executing', guard: 'newToolCall', actions: ['openTool'],
    });
    // Targetless transitions (actions only) are kept, without a target.
    expect(g.transitions.find((t) => t.source === 'run.running' && t.event === 'agent_thinking')).toMatchObject({ actions: ['countThought'] });
    expect(g.transitions.find((t) => t.source === 'run.running' && t.event === 'agent_thinking')?.target).toBeUndefined();
    expect(g.events).toContain('agent_completed');
    for (const t of g.transitions) if (t.target) expect(allStates(g).some((s) => s.id === t.target)).toBe(true);
  });

  it('names the active states of a snapshot value, outermost first', () => {
    expect(activeStateIds('run', { running: 'toolCall' })).toEqual(['run.running', 'run.running.toolCall']);
    expect(activeStateIds('session', 'closed')).toEqual(['session.closed']);
  });

  it('writes Mermaid with each state once and each transition as an arrow', () => {
    const g = machineGraph(machines.session);
    const mmd = toMermaid(g);
    expect(mmd.startsWith('stateDiagram-v2\n')).toBe(true);
    expect(mmd).toContain('state "connected" as connected {');
    expect(mmd).toContain('connected_carrying --> connected_idle : RUN_FINISHED [lastRun] / removeRun');
    expect(mmd.split('\n').filter((l) => l.includes(' --> ') && !l.includes('[*]'))).toHaveLength(g.transitions.length);
  });

  it('docs/machines and docs/visualizer.md are what `npm run machines:export` writes now', () => {
    const doc = readFileSync(join(DOCS, 'visualizer.md'), 'utf8');
    const { files, doc: fresh } = exportMachines(doc);
    for (const [name, content] of files) expect(readFileSync(join(DOCS, 'machines', name), 'utf8'), `docs/machines/${name} is stale: run npm run machines:export`).toBe(content);
    expect(doc, 'docs/visualizer.md is stale: run npm run machines:export').toBe(fresh);
  });
});

describe('replay of stored events', () => {
  const ev = (seq: number, body: Record<string, unknown>): RunEvent =>
    ({ runId: 'r', threadId: 't', seq, ts: new Date(1_000 + seq * 10).toISOString(), ...body }) as unknown as RunEvent;

  it('steps the run machine through the events, with timing, and marks the ones it refuses', () => {
    const r = replayEvents([
      ev(1, { type: 'agent_started', agent: 'a', input: { text: 'q' } }),
      ev(2, { type: 'tool_completed', toolCallId: 'nope', tool: 'x', ok: true, durationMs: 1 }),
      ev(3, { type: 'tool_executing', toolCallId: 'c1', tool: 'x', args: {} }),
      ev(4, { type: 'tool_completed', toolCallId: 'c1', tool: 'x', ok: true, durationMs: 1 }),
      ev(5, { type: 'agent_completed', text: 'done', durationMs: 40 }),
    ]);
    expect(r.initial.states).toEqual(['run.queued']);
    expect(r.steps.map((s) => [s.seq, s.accepted, s.states.at(-1)])).toEqual([
      [1, true, 'run.running.working'],
      [2, false, 'run.running.working'],
      [3, true, 'run.running.toolCall'],
      [4, true, 'run.running.working'],
      [5, true, 'run.completed'],
    ]);
    expect(r.refused).toBe(1);
    expect(r.status).toBe('done');
    expect(r.steps[4]).toMatchObject({ sinceStartMs: 40, sincePrevMs: 10 });
  });
});
