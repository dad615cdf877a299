/**
 * The graph's SVG pieces, as strings (one `innerHTML` for a whole graph is fast at 1,000 nodes)
 * or DOM nodes (one node at a time): nodes, their labels, edge paths, arrowheads and the key.
 *
 * Nodes are coloured by state (gflow's codes on every node, so colour is never the only cue).
 * Edges: afterok solid, afternotok dashed, afterany dotted, after long dashes, aftercorr
 * dash-dot; green once met, red once they can never be met (the classes; css.ts draws them).
 */
import { conditionStatus, DepEdge, formatDelay } from './deps';
import { esc, reasonText, STATE_NAME, STATES, truncate } from './dom';
import { JUNCTION_RISE, Layout, NODE_H, NODE_W } from './layout';
import { Job } from './types';

export const SVG = 'http://www.w3.org/2000/svg';

export function pathOf(points: [number, number][]): string {
  let d = `M${points[0][0].toFixed(1)},${points[0][1].toFixed(1)}`;
  for (let i = 1; i < points.length; i++) {
    const [x0, y0] = points[i - 1];
    const [x1, y1] = points[i];
    if (x0 === x1 || Math.abs(y1 - y0) < 1) {
      d += ` L${x1.toFixed(1)},${y1.toFixed(1)}`;
    } else {
      const my = (y1 - y0) / 2;
      d += ` C${x0.toFixed(1)},${(y0 + my).toFixed(1)} ${x1.toFixed(1)},${(y1 - my).toFixed(1)} ${x1.toFixed(1)},${y1.toFixed(1)}`;
    }
  }
  return d;
}

export function nodeClass(job: Job, selected: boolean): string {
  let c = `jf-node s-${job.code}`;
  if (job.reason_kind === 'DependencyNeverSatisfied') {
    c += ' never';
  }
  if (selected) {
    c += ' sel';
  }
  return c;
}

export function secondLine(job: Job): string {
  // the node is small: "CA · job 2 failed" (the state code says "cancelled")
  const reason = reasonText(job)
    .replace(/^(cancelled|waiting|can never start): /, (_m, w: string) => (w === 'can never start' ? 'never: ' : ''))
    .replace(/^waiting for its dependencies$/, 'waiting for parents')
    .replace(/^waiting for a free /, 'needs a free ');
  const state = STATE_NAME[job.code] ?? job.state;
  return truncate(reason ? `${job.code} · ${reason}` : `${job.code} · ${state}`, 26);
}

export function tooltip(job: Job): string {
  const why = reasonText(job);
  const lines = [`Job ${job.id} (${job.name}): ${job.state}${why ? `, ${why}` : ''}${job.reason && job.reason !== why ? ` [${job.reason}]` : ''}`];
  if (job.dependency) {
    lines.push(`depends: ${job.dependency}`);
  }
  if (job.group) {
    lines.push(`group: ${job.group}`);
  }
  return lines.join('\n');
}

export function nodeSvg(job: Job, x: number, y: number, selected: boolean, labels = true): string {
  return (
    `<g class="${nodeClass(job, selected)}" data-id="${job.id}" data-code="${esc(job.code)}" transform="translate(${x.toFixed(1)},${y})">` +
    `<rect class="jf-box" width="${NODE_W}" height="${NODE_H}" rx="5"/>` +
    `<rect class="jf-band" width="6" height="${NODE_H}" rx="2"/>` +
    (labels ? labelSvg(job) : '') +
    `</g>`
  );
}

/** The two text lines of a node, built with the DOM API (cheaper than parsing, one node at a time). */
export function addLabelTo(g: SVGGElement, job: Job): SVGTextElement {
  const name = truncate(job.name, Math.max(4, 18 - String(job.id).length));
  const t1 = document.createElementNS(SVG, 'text');
  t1.setAttribute('class', 'jf-t1');
  t1.setAttribute('x', '13');
  t1.setAttribute('y', '16');
  const idSpan = document.createElementNS(SVG, 'tspan');
  idSpan.setAttribute('class', 'jf-id');
  idSpan.textContent = String(job.id);
  t1.append(idSpan, ` ${name}`);
  const t2 = document.createElementNS(SVG, 'text');
  t2.setAttribute('class', 'jf-t2');
  t2.setAttribute('x', '13');
  t2.setAttribute('y', '32');
  t2.textContent = secondLine(job);
  g.append(t1, t2);
  return t2;
}

export function labelSvg(job: Job): string {
  const name = truncate(job.name, Math.max(4, 18 - String(job.id).length));
  return (
    `<text class="jf-t1" x="13" y="16"><tspan class="jf-id">${job.id}</tspan> ${esc(name)}</text>` +
    `<text class="jf-t2" x="13" y="32">${esc(secondLine(job))}</text>`
  );
}

let graphCount = 0;
/** ids unique on the page, even across the sidebar's and the widget's bundles */
export const graphUid = (): string => `${Math.random().toString(36).slice(2, 8)}${++graphCount}`;
export const ARROWS = ['wait', 'met', 'never'];

/** The arrowhead markers of one graph; the CSS picks them through `--jf-arrow-<status>`. */
export const defs = (uid: string): string =>
  '<defs>' +
  ARROWS
    .map(
      s =>
        `<marker id="jf-arrow-${s}-${uid}" class="jf-arrow ${s}" viewBox="0 0 8 8" refX="7" refY="4" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto"><path d="M0,0 L8,4 L0,8 z"/></marker>`
    )
    .join('') +
  '</defs>';

/** The key to colours and line styles, folded into a corner of the graph. */
export function legend(): HTMLElement {
  const box = document.createElement('details');
  box.className = 'jf-legend';
  const sum = document.createElement('summary');
  sum.textContent = 'Key';
  box.appendChild(sum);
  const states = STATES.map(([code, name]) => `<span class="jf-key s-${code}"><i></i>${code} ${name}</span>`).join('');
  const line = (cls: string, label: string) =>
    `<span class="jf-key-edge"><svg width="34" height="10"><path class="jf-edge ${cls}" d="M1,5 H33"/></svg>${label}</span>`;
  const body = document.createElement('div');
  body.innerHTML =
    `<div class="jf-key-row">${states}</div>` +
    `<div class="jf-key-row">${line('t-afterok wait', 'afterok')}${line('t-afternotok wait', 'afternotok')}` +
    `${line('t-afterany wait', 'afterany')}${line('t-after wait', 'after (started)')}</div>` +
    `<div class="jf-key-row">${line('t-afterok met', 'met')}${line('t-afterok never', 'can never be met')}` +
    `<span class="jf-key-edge"><svg width="18" height="18"><g class="jf-or" transform="translate(9,9)"><circle r="8"/><text y="3">or</text></g></svg>any one of (OR)</span></div>`;
  box.appendChild(body);
  return box;
}

/** The tooltip of an OR junction: which parents any one of suffices. */
export function orTooltip(child: number, parents: DepEdge[]): string {
  const list = parents.filter(e => e.or).map(e => `${e.type}:${e.parent}${e.delay ? formatDelay(e.delay) : ''}`);
  return `Job ${child} runs when any one of these is met: ${list.join(' or ')}`;
}

/** The whole graph's SVG, as one string: edges, OR junctions, then nodes (drawn on top). */
export function graphSvg(lay: Layout, ids: number[], jobOf: (id: number) => Job | undefined, selected: number | null, labels: boolean): string {
  const parts: string[] = ['<g class="jf-edges">'];
  for (const route of lay.edges) {
    const status = conditionStatus(route.edge.type, jobOf(route.parent)?.code);
    parts.push(`<path class="jf-edge t-${esc(route.edge.type)} ${status}${route.edge.or ? ' or' : ''}" d="${pathOf(route.points)}"/>`);
  }
  parts.push('</g><g class="jf-junctions">');
  for (const j of lay.junctions) {
    parts.push(
      `<g class="jf-or" data-child="${j.child}" transform="translate(${j.x},${j.y})">` +
        `<path class="jf-or-stub" d="M0,0 V${JUNCTION_RISE - 1}"/><circle r="8"/><text y="3">or</text></g>`
    );
  }
  parts.push('</g><g class="jf-nodes">');
  for (const id of ids) {
    const pos = lay.nodes.get(id)!;
    parts.push(nodeSvg(jobOf(id)!, pos.x - NODE_W / 2, pos.y, id === selected, labels));
  }
  parts.push('</g>');
  return parts.join('');
}
