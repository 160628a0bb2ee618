import { describe, expect, it } from 'vitest'
import { LineSplitter, splitUtf8 } from '../../../src/logs/lines.js'
import { kMaxEventMessageBytes } from '../../../src/logs/limits.js'

function split (chunks: Array<string | Buffer>, maxLineBytes?: number): string[] {
  const out: string[] = []
  const s = new LineSplitter(l => out.push(l), { maxLineBytes })
  for (const c of chunks) s.push(c)
  s.end()
  return out
}

describe('splitUtf8', () => {
  it('keeps a string that fits', () => {
    expect(splitUtf8('hello', 5)).toEqual(['hello'])
  })
  it('cuts at the byte limit without splitting a code point', () => {
    const s = 'aé€😀'.repeat(20) // 1 + 2 + 3 + 4 bytes
    const parts = splitUtf8(s, 7)
    expect(parts.join('')).toBe(s)
    for (const p of parts) {
      expect(Buffer.byteLength(p)).toBeLessThanOrEqual(7)
      expect(p).not.toMatch(/[\ud800-\udbff]$/) // no lone high surrogate at a cut
    }
  })
})

describe('LineSplitter', () => {
  it('splits on \\n across chunks and drops \\r of \\r\\n', () => {
    expect(split(['one\r\ntw', 'o\nthr', 'ee\n'])).toEqual(['one', 'two', 'three'])
  })
  it('emits a last line without newline at end(), and empty lines as empty', () => {
    expect(split(['a\n\nb'])).toEqual(['a', '', 'b'])
  })
  it('never mangles a character split between two chunks', () => {
    const bytes = Buffer.from('héllo wörld 😀\n')
    const chunks = [...bytes].map(b => Buffer.from([b])) // one byte at a time
    expect(split(chunks)).toEqual(['héllo wörld 😀'])
  })
  it('splits an over-long line into pieces of at most maxLineBytes, in order, at character boundaries', () => {
    const line = '€'.repeat(100) // 300 bytes
    const out = split([line + '\nnext\n'], 64)
    expect(out.slice(0, -1).join('')).toBe(line)
    expect(out.at(-1)).toBe('next')
    for (const p of out) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(64)
  })
  it('bounds memory on a line that never ends', () => {
    const out: string[] = []
    const s = new LineSplitter(l => out.push(l), { maxLineBytes: 100 })
    for (let i = 0; i < 50; i++) s.push('x'.repeat(37))
    // everything but the unfinished remainder has been emitted already
    expect(out.join('').length).toBeGreaterThanOrEqual(50 * 37 - 100)
    s.end()
    expect(out.join('')).toBe('x'.repeat(50 * 37))
  })
  it('a line exactly cut at the limit does not produce an empty tail event', () => {
    expect(split(['x'.repeat(128) + '\n'], 64)).toEqual(['x'.repeat(64), 'x'.repeat(64)])
  })
  it('invalid UTF-8 becomes U+FFFD and the pieces still fit', () => {
    const out = split([Buffer.concat([Buffer.alloc(40, 0xff), Buffer.from('\n')])], 64)
    expect(out.join('')).toBe('\ufffd'.repeat(40))
    for (const p of out) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(64)
  })
  it('defaults to the safe CloudWatch Logs event size', () => {
    expect(new LineSplitter(() => {}).maxLineBytes).toBe(kMaxEventMessageBytes)
    expect(kMaxEventMessageBytes).toBe(256 * 1024 - 26)
  })
})
