/**
 * Phases 4 and 5 of the layered layout: wide layers wrap into rows (a 1,000-job queue stays a
 * readable block, not a strip), then each row is placed as near as possible to its neighbours'
 * mean x, keeping the gaps (an exact isotonic regression per row, the pool-adjacent-violators
 * algorithm), down, up and down.
 */
import { H_GAP, Item, LAYER_GAP, MARGIN, NODE_H, WRAP_GAP } from './layouttypes';

/** The rows, top to bottom (sets every item's `y`), and the y just below the last one. */
export function wrapRows(items: Item[], layers: number[][], maxRow: number): { rows: number[][]; y: number } {
  const layerCount = layers.length;
  const rows: number[][] = [];
  let y = MARGIN;
  for (let l = 0; l < layerCount; l++) {
    const real = layers[l].filter(k => items[k].id >= 0);
    const dummies = layers[l].filter(k => items[k].id < 0);
    if (real.length <= maxRow) {
      rows.push(layers[l]);
      layers[l].forEach(k => (items[k].y = y));
      y += NODE_H + LAYER_GAP;
      continue;
    }
    // chunks of the layer's real nodes in order, those that lead further down in the last chunk
    // (their edges down then cross no row of their own layer); its long edges pass by that chunk
    const leaves = real.filter(k => !items[k].down.length);
    const onward = real.filter(k => items[k].down.length);
    const ordered = [...leaves, ...onward];
    const firstChunk = ordered.length % maxRow || maxRow; // the short chunk goes first
    for (let start = 0; start < ordered.length; ) {
      const size = start === 0 ? firstChunk : maxRow;
      const row = ordered.slice(start, start + size).sort((a, b) => items[a].order - items[b].order);
      start += size;
      const last = start >= ordered.length;
      const withDummies = last ? [...row, ...dummies] : row;
      if (last) {
        withDummies.sort((a, b) => items[a].order - items[b].order);
      }
      rows.push(withDummies);
      withDummies.forEach(k => (items[k].y = y));
      y += NODE_H + (last ? LAYER_GAP : WRAP_GAP);
    }
  }
  return { rows, y };
}

/** Every item's `x`, from the rows' order and the neighbours above and below. */
export function placeX(items: Item[], rows: number[][]): void {
  for (const row of rows) {
    let x = 0;
    row.forEach((k, o) => {
      items[k].order = o;
      x += items[k].w / 2;
      items[k].x = x;
      x += items[k].w / 2 + H_GAP;
    });
  }
  const place = (dir: 'up' | 'down') => {
    const seq = dir === 'up' ? rows : [...rows].reverse();
    for (const row of seq) {
      const desired = row.map(k => {
        const ns = items[k][dir];
        if (!ns.length) {
          return items[k].x;
        }
        let s = 0;
        for (const m of ns) {
          s += items[m].x;
        }
        return s / ns.length;
      });
      const weights = row.map(k => (items[k].id >= 0 ? 1 : 0.4));
      const xs = packIsotonic(
        desired,
        row.map(k => items[k].w),
        weights
      );
      row.forEach((k, o) => (items[k].x = xs[o]));
    }
  };
  place('up');
  place('down');
  place('up');
}

/**
 * Positions as near as possible (least squares, weighted) to `desired`, in the given order, with
 * at least `(w[i] + w[i+1]) / 2 + H_GAP` between neighbours: isotonic regression of
 * `desired[i] - offset[i]` by pool-adjacent-violators, then the offsets added back.
 */
export function packIsotonic(desired: number[], widths: number[], weights: number[]): number[] {
  const n = desired.length;
  const offset = new Array<number>(n).fill(0);
  for (let i = 1; i < n; i++) {
    offset[i] = offset[i - 1] + (widths[i - 1] + widths[i]) / 2 + H_GAP;
  }
  // blocks of (mean, weight, count)
  const mean: number[] = [];
  const weight: number[] = [];
  const count: number[] = [];
  for (let i = 0; i < n; i++) {
    let m = desired[i] - offset[i];
    let w = weights[i];
    let c = 1;
    while (mean.length && mean[mean.length - 1] > m) {
      const pm = mean.pop()!;
      const pw = weight.pop()!;
      const pc = count.pop()!;
      m = (pm * pw + m * w) / (pw + w);
      w += pw;
      c += pc;
    }
    mean.push(m);
    weight.push(w);
    count.push(c);
  }
  const out = new Array<number>(n);
  let i = 0;
  for (let b = 0; b < mean.length; b++) {
    for (let k = 0; k < count[b]; k++, i++) {
      out[i] = mean[b] + offset[i];
    }
  }
  return out;
}