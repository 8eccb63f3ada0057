/**
 * The charts' label placement (src/ui/labels.js), a pure function: whatever the labels, the
 * obstacles and the bounds, no placed label overlaps another or an obstacle or leaves the bounds,
 * and a label is left out only when none of its candidates was free.
 */
import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

interface Box {
  x0: number
  x1: number
  y0: number
  y1: number
}
type PlaceLabels = (labels: Array<{ candidates: Box[] }>, obstacles: Box[], bounds: Box) => number[]

// A browser module without declarations: loaded by a path the type-checker does not follow.
const modulePath = '../../src/ui/labels.js'
const { placeLabels, overlaps } = (await import(modulePath)) as { placeLabels: PlaceLabels; overlaps: (a: Box, b: Box) => boolean }

const test = suite('ui labels')

const box = fc
  .record({ x: fc.integer({ min: -20, max: 200 }), y: fc.integer({ min: -20, max: 120 }), w: fc.integer({ min: 1, max: 60 }), h: fc.integer({ min: 1, max: 20 }) })
  .map(({ x, y, w, h }) => ({ x0: x, x1: x + w, y0: y, y1: y + h }))
const BOUNDS = { x0: 0, x1: 180, y0: 0, y1: 100 }
const inside = (b: Box) => b.x0 >= BOUNDS.x0 && b.x1 <= BOUNDS.x1 && b.y0 >= BOUNDS.y0 && b.y1 <= BOUNDS.y1

test('placed labels overlap nothing, stay inside, and one is left out only when no candidate was free', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ candidates: fc.array(box, { minLength: 1, maxLength: 6 }) }), { maxLength: 25 }), fc.array(box, { maxLength: 8 }), (labels, obstacles) => {
      const chosen = placeLabels(labels, obstacles, BOUNDS)
      assert.is(chosen.length, labels.length)
      const placed: Box[] = []
      chosen.forEach((at, i) => {
        const { candidates } = labels[i] as { candidates: Box[] }
        // Greedy: every candidate before the one taken (all of them when none is) was blocked.
        const blocked = (b: Box) => !inside(b) || [...obstacles, ...placed].some((o) => overlaps(b, o))
        for (const b of candidates.slice(0, at === -1 ? candidates.length : at)) assert.ok(blocked(b))
        if (at === -1) return
        const b = candidates[at] as Box
        assert.not.ok(blocked(b))
        placed.push(b)
      })
      for (const [i, a] of placed.entries()) for (const b of placed.slice(i + 1)) assert.not.ok(overlaps(a, b))
    }),
  )
})

test('boxes that only touch do not overlap; the first free candidate is taken', () => {
  assert.not.ok(overlaps({ x0: 0, x1: 10, y0: 0, y1: 10 }, { x0: 10, x1: 20, y0: 0, y1: 10 }))
  assert.ok(overlaps({ x0: 0, x1: 10, y0: 0, y1: 10 }, { x0: 9, x1: 20, y0: 9, y1: 10 }))
  const a = { x0: 10, x1: 40, y0: 10, y1: 20 }
  const b = { x0: 10, x1: 40, y0: 30, y1: 40 }
  const outside = { x0: 170, x1: 190, y0: 0, y1: 10 }
  assert.equal(placeLabels([{ candidates: [a, b] }, { candidates: [a, outside, b] }, { candidates: [a, b] }], [], BOUNDS), [0, 2, -1])
  assert.equal(placeLabels([{ candidates: [a, b] }], [{ x0: 0, x1: 15, y0: 0, y1: 15 }], BOUNDS), [1])
})

test.run()
