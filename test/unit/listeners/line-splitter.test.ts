/**
 * The TCP framing of the EMF listener: for any lines and any way the stream is cut into
 * chunks, every line within the limit comes out exactly once, in order, and every longer
 * line is counted once and never emitted.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LineSplitter } from '../../../src/listeners/emf-agent.js'

function run (max: number, chunks: Buffer[], end = true): { lines: string[], tooLong: number[] } {
  const out: Buffer[] = []
  const tooLong: number[] = []
  const sp = new LineSplitter(max, (b) => { out.push(Buffer.from(b)) }, (n) => { tooLong.push(n) })
  for (const c of chunks) sp.push(c)
  if (end) sp.end()
  const text = Buffer.concat(out).toString('latin1')
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  return { lines, tooLong }
}

/** Cuts `buf` at the given fractions. */
function cut (buf: Buffer, at: number[]): Buffer[] {
  const points = [...new Set(at.map(f => Math.floor(f * buf.length)))].sort((a, b) => a - b)
  const out: Buffer[] = []
  let prev = 0
  for (const p of points) { if (p > prev) { out.push(buf.subarray(prev, p)); prev = p } }
  out.push(buf.subarray(prev))
  return out
}

describe('LineSplitter', () => {
  it('any lines, any chunking: short lines exactly once and in order, long lines counted once', () => {
    const line = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ minLength: 13, maxLength: 40 }))
      .map(s => s.replace(/[\n\u0080-\uffff]/g, 'x'))
    fc.assert(fc.property(fc.array(line, { maxLength: 30 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 }), fc.boolean(),
      (lines, at, trailingNewline) => {
        const max = 12
        const text = lines.join('\n') + (trailingNewline && lines.length > 0 ? '\n' : '')
        const { lines: got, tooLong } = run(max, cut(Buffer.from(text, 'latin1'), at))
        // The last line without a newline is still a line (emitted at end()), unless it is empty.
        const want = trailingNewline || lines[lines.length - 1] !== '' ? lines : lines.slice(0, -1)
        expect(got).toEqual(want.filter(l => l.length <= max))
        expect(tooLong.length).toBe(want.filter(l => l.length > max).length)
      }), { numRuns: 500 })
  })

  it('a line of exactly the limit passes; one byte more is too long', () => {
    expect(run(5, [Buffer.from('abcde\nabcdef\nx\n')])).toEqual({ lines: ['abcde', 'x'], tooLong: [6] })
    expect(run(5, [Buffer.from('abc'), Buffer.from('de\nabc'), Buffer.from('def\nx\n')])).toEqual({ lines: ['abcde', 'x'], tooLong: [6] })
  })

  it('a long line is counted when it passes the limit, without buffering the rest of it', () => {
    const tooLong: number[] = []
    const emitted: string[] = []
    const sp = new LineSplitter(10, (b) => { emitted.push(b.toString()) }, (n) => { tooLong.push(n) })
    sp.push(Buffer.from('0123456789ABCDEF'))   // over the limit, no newline yet
    expect(tooLong).toEqual([16])
    expect(sp.pending).toBe(true)
    for (let i = 0; i < 1000; i++) sp.push(Buffer.from('more bytes of the same line'))
    expect(tooLong).toEqual([16])
    sp.push(Buffer.from('tail\nok\n'))
    expect(emitted).toEqual(['ok\n'])
    expect(sp.pending).toBe(false)
  })

  it('end() drops the rest of an over-long line and emits an unterminated short one', () => {
    expect(run(3, [Buffer.from('ab\nabcdef')])).toEqual({ lines: ['ab'], tooLong: [6] })
    expect(run(3, [Buffer.from('ab\ncd')])).toEqual({ lines: ['ab', 'cd'], tooLong: [] })
    expect(run(3, [Buffer.from('ab\ncd')], false)).toEqual({ lines: ['ab'], tooLong: [] })
  })
})
