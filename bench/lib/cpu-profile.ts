// Reads a V8 CPU profile (.cpuprofile, from lib/probe.ts) into the shares bench:profile prints:
// self time by function, and inclusive time by area of the code (a frame counts for an area when
// it, or any caller above it, belongs there; each sample counts once per area).

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface CpuProfile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Areas by where their code lives; the first that matches a frame's url names it. */
const AREAS: Array<[string, RegExp]> = [
  ['analyst agent (src/agents/analyst)', /\/src\/agents\/analyst\//],
  ['pg client (pg, pg-pool, pg-protocol)', /\/node_modules\/pg(-pool|-protocol)?\//],
  ['pg-boss', /\/node_modules\/pg-boss\//],
  ['XState', /\/node_modules\/xstate\//],
  ['zod', /\/node_modules\/zod\//],
  ['logging (pino)', /\/node_modules\/pino/],
  ['OpenTelemetry API', /\/node_modules\/@opentelemetry\//],
  ['session + transport (src/session, src/transport)', /\/src\/(session|transport)\//],
  ['runs (src/runs)', /\/src\/runs\//],
  ['store (src/store)', /\/src\/store\//],
  ['protocol (src/protocol)', /\/src\/protocol\//],
];

const where = (url: string) => url.replace(/^.*\/(node_modules\/[^/]+|src\/.*|bench\/.*)$/, '$1');

export function summarise(p: CpuProfile, top = 25) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const share = (us: number) => Math.round((us / total) * 1000) / 10;

  const fn = new Map<string, number>();
  const area = new Map<string, number>();
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    const name = f.url ? `${f.functionName || '(anonymous)'} ${where(f.url)}:${f.lineNumber + 1}` : f.functionName;
    fn.set(name, (fn.get(name) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const url = byId.get(cur)!.callFrame.url;
      const a = AREAS.find(([, re]) => re.test(url))?.[0];
      if (a && !seen.has(a)) {
        seen.add(a);
        area.set(a, (area.get(a) ?? 0) + us);
      }
    }
  }
  return {
    sampledMs: Math.round(total / 1000),
    idlePct: share([...fn].filter(([k]) => k === '(idle)').reduce((a, [, v]) => a + v, 0)),
    gcPct: share(fn.get('(garbage collector)') ?? 0),
    areasPct: Object.fromEntries([...area].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, share(v)])),
    topSelfPct: Object.fromEntries([...fn].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => [k, share(v)])),
  };
}
