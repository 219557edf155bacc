// Draws a machine graph (src/debug/graph.ts) as SVG, laid out by elkjs (bundled into the page,
// run on the main thread: a layout of these machines takes milliseconds). Nested states become
// nested boxes; transitions with a target become edges labelled `event [guard]`; transitions
// without one (actions only) are listed inside their state, as statecharts usually show them.
import ElkModule, { type ElkExtendedEdge, type ElkNode } from 'elkjs/lib/elk.bundled.js';
import type { GraphState, GraphTransition, MachineGraph } from '../src/debug/graph.js';

const SVG = 'http://www.w3.org/2000/svg';
// elkjs is CommonJS: depending on the bundler its constructor is the module or its `default`.
type ElkCtor = new () => { layout(graph: ElkNode): Promise<ElkNode> };
const ELK = ((ElkModule as unknown as { default?: ElkCtor }).default ?? ElkModule) as unknown as ElkCtor;
const elk = new ELK();

const svg = <K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, text?: string) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
};

const label = (t: GraphTransition) => `${t.event}${t.guard ? ` [${t.guard}]` : ''}`;
const internalLabel = (t: GraphTransition) => `${label(t)}${t.actions.length ? ` / ${t.actions.join(', ')}` : ''}`;

const NAME_W = 8.4;
const SMALL_W = 6.3;
const LINE_H = 15;

export interface Diagram {
  element: SVGSVGElement;
  /** Marks these state ids as the current ones (and only these). */
  highlight(ids: readonly string[]): void;
  /** Marks the transitions of `event` leaving any of `from` as just taken. */
  taken(event: string | undefined, from: readonly string[]): void;
  counts(counts: Record<string, number>): void;
}

export async function drawMachine(g: MachineGraph): Promise<Diagram> {
  const internal = new Map<string, string[]>();
  for (const t of g.transitions) if (!t.target) internal.set(t.source, [...(internal.get(t.source) ?? []), internalLabel(t)]);
  const states = new Map<string, GraphState>();

  const node = (s: GraphState): ElkNode => {
    states.set(s.id, s);
    const lines = internal.get(s.id) ?? [];
    const width = Math.max(s.key.length * NAME_W, ...lines.map((l) => l.length * SMALL_W)) + 36;
    if (s.children.length === 0) return { id: s.id, width, height: 34 + lines.length * LINE_H };
    const children = s.children.map(node);
    if (s.initial) children.unshift({ id: `init:${s.id}`, width: 12, height: 12 });
    return {
      id: s.id,
      children,
      layoutOptions: { 'elk.padding': `[top=${34 + lines.length * LINE_H},left=18,bottom=18,right=18]`, 'elk.nodeSize.minimum': `(${width},40)` },
    };
  };
  const edges: ElkExtendedEdge[] = [];
  for (const t of g.transitions) {
    if (!t.target) continue;
    const text = label(t);
    edges.push({ id: t.id, sources: [t.source], targets: [t.target], labels: [{ text, width: text.length * SMALL_W + 6, height: 14 }] });
  }
  const roots = g.root.children.map(node);
  if (g.root.initial) roots.unshift({ id: `init:${g.root.id}`, width: 12, height: 12 });
  for (const s of states.values()) if (s.initial) edges.push({ id: `init:${s.id}`, sources: [`init:${s.id}`], targets: [s.initial] });
  if (g.root.initial) edges.push({ id: `init:${g.root.id}`, sources: [`init:${g.root.id}`], targets: [g.root.initial] });

  const laid = await elk.layout({
    id: `graph:${g.id}`,
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.layered.spacing.nodeNodeBetweenLayers': '60',
      'elk.spacing.nodeNode': '28',
      'elk.spacing.edgeLabel': '3',
      'elk.layered.edgeLabels.sideSelection': 'ALWAYS_UP',
      'elk.padding': '[top=12,left=12,bottom=12,right=12]',
    },
    children: roots,
    edges,
  });

  const root = svg('svg', { width: laid.width ?? 0, height: laid.height ?? 0, viewBox: `0 0 ${laid.width ?? 0} ${laid.height ?? 0}`, class: 'machine-svg', role: 'img' });
  root.append(svg('title', {}, `statechart ${g.id}`));
  const defs = svg('defs');
  const marker = svg('marker', { id: `arrow-${g.id}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }));
  defs.append(marker);
  root.append(defs);

  const abs = new Map<string, { x: number; y: number }>([[laid.id, { x: 0, y: 0 }]]);
  const stateLayer = svg('g', { class: 'states' });
  const edgeLayer = svg('g', { class: 'edges' });
  const allEdges: Array<{ e: ElkExtendedEdge; owner: string }> = [];
  const place = (n: ElkNode, parent: { x: number; y: number }) => {
    for (const e of n.edges ?? []) allEdges.push({ e, owner: n.id });
    for (const c of n.children ?? []) {
      const p = { x: parent.x + (c.x ?? 0), y: parent.y + (c.y ?? 0) };
      abs.set(c.id, p);
      const w = c.width ?? 0;
      const h = c.height ?? 0;
      if (c.id.startsWith('init:')) {
        stateLayer.append(svg('circle', { cx: p.x + w / 2, cy: p.y + h / 2, r: 6, class: 'initial' }));
        continue;
      }
      const s = states.get(c.id);
      if (!s) continue;
      const grp = svg('g', { class: `state ${s.type}`, 'data-state': s.id });
      grp.append(svg('title', {}, s.description ? `${s.id}: ${s.description}` : s.id));
      grp.append(svg('rect', { x: p.x, y: p.y, width: w, height: h, rx: 10, class: 'box' }));
      if (s.type === 'final') grp.append(svg('rect', { x: p.x + 3, y: p.y + 3, width: w - 6, height: h - 6, rx: 8, class: 'inner' }));
      const compound = s.children.length > 0;
      grp.append(svg('text', { x: compound ? p.x + 12 : p.x + w / 2, y: p.y + 21, class: `name${compound ? ' left' : ''}` }, s.key));
      (internal.get(s.id) ?? []).forEach((line, i) =>
        grp.append(svg('text', { x: compound ? p.x + 12 : p.x + w / 2, y: p.y + 36 + i * LINE_H, class: `internal${compound ? ' left' : ''}` }, line)),
      );
      grp.append(svg('text', { x: p.x + w - 6, y: p.y - 4, class: 'count' }, ''));
      stateLayer.append(grp);
      place(c, p);
    }
  };
  place(laid, { x: 0, y: 0 });
  const transitions = new Map(g.transitions.map((t) => [t.id, t]));
  for (const { e, owner } of allEdges) {
    // elkjs gives edge coordinates relative to the edge's container.
    const container = (e as ElkExtendedEdge & { container?: string }).container ?? owner;
    const o = abs.get(container) ?? { x: 0, y: 0 };
    const t = transitions.get(e.id);
    const grp = svg('g', { class: t ? 'edge' : 'edge init', ...(t ? { 'data-transition': t.id, 'data-event': t.event, 'data-source': t.source } : {}) });
    for (const sec of e.sections ?? []) {
      const pts = [sec.startPoint, ...(sec.bendPoints ?? []), sec.endPoint];
      grp.append(svg('path', { d: pts.map((pt, i) => `${i ? 'L' : 'M'}${pt.x + o.x},${pt.y + o.y}`).join(' '), 'marker-end': `url(#arrow-${g.id})` }));
    }
    for (const l of e.labels ?? []) grp.append(svg('text', { x: (l.x ?? 0) + o.x + 3, y: (l.y ?? 0) + o.y + 11, class: 'edge-label' }, l.text ?? ''));
    edgeLayer.append(grp);
  }
  root.append(stateLayer, edgeLayer);

  const groups = [...root.querySelectorAll<SVGGElement>('g.state')];
  return {
    element: root,
    highlight(ids) {
      const set = new Set(ids);
      for (const el of groups) el.classList.toggle('current', set.has(el.dataset.state ?? ''));
    },
    taken(event, from) {
      const set = new Set(from);
      for (const el of root.querySelectorAll<SVGGElement>('g.edge[data-event]'))
        el.classList.toggle('taken', event !== undefined && el.dataset.event === event && set.has(el.dataset.source ?? ''));
    },
    counts(counts) {
      for (const el of groups) {
        const n = counts[el.dataset.state ?? ''] ?? 0;
        el.classList.toggle('occupied', n > 0);
        const c = el.querySelector('text.count');
        if (c) c.textContent = n > 0 ? String(n) : '';
      }
    },
  };
}
