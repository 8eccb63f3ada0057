// @ts-check
// Greedy label placement for the charts: labels never cover each other, a dot or an axis text.

/**
 * A rectangle in the chart's coordinates (x grows rightwards, y downwards).
 * @typedef {{ x0: number, x1: number, y0: number, y1: number }} Box
 */

/**
 * Whether two boxes share more than an edge.
 * @param {Box} a
 * @param {Box} b
 */
export const overlaps = (a, b) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1

/**
 * @param {Box} box
 * @param {Box} bounds
 */
const inside = (box, bounds) => box.x0 >= bounds.x0 && box.x1 <= bounds.x1 && box.y0 >= bounds.y0 && box.y1 <= bounds.y1

/**
 * Places labels in the order given (the most wanted first): each takes the first of its candidate
 * boxes that lies inside `bounds` and overlaps no obstacle and no label placed before it; a label
 * none of whose candidates fits is left out. Returns, per label, the index of the candidate taken
 * or -1.
 * @param {Array<{ candidates: Box[] }>} labels
 * @param {Box[]} obstacles
 * @param {Box} bounds
 * @returns {number[]}
 */
export function placeLabels(labels, obstacles, bounds) {
  /** @type {Box[]} */
  const taken = [...obstacles]
  return labels.map(({ candidates }) => {
    const at = candidates.findIndex((box) => inside(box, bounds) && !taken.some((t) => overlaps(box, t)))
    if (at >= 0) taken.push(candidates[at])
    return at
  })
}
