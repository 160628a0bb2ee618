/**
 * Splits a byte stream (a child's stdout or stderr) into lines, and lines into pieces that
 * fit one CloudWatch Logs event.
 *
 * - A line ends at `\n`; a `\r` before it is dropped (`\r\n` endings). A lone `\r` is kept:
 *   progress bars redraw with it, and what they print is still one line of text.
 * - Bytes are decoded as UTF-8 only once a line is complete, so a character split over two
 *   chunks of the pipe is never mangled. Invalid UTF-8 becomes U+FFFD.
 * - A line longer than `maxLineBytes` (UTF-8) is emitted in pieces of at most that many
 *   bytes, in order, never cutting a character in two. The splitter never buffers more than
 *   `maxLineBytes` bytes of an unfinished line, whatever the child writes.
 * - Empty lines are reported as `''`; whoever ships them decides (CloudWatch refuses empty
 *   messages).
 * - `end()` emits a last line that had no newline.
 */
import { invalidOption } from '../errors.js'
import { kMaxEventMessageBytes } from './limits.js'

/** Splits `s` into pieces of at most `maxBytes` UTF-8 bytes each, never inside a code point. */
export function splitUtf8 (s: string, maxBytes: number): string[] {
  if (!(maxBytes >= 4)) throw invalidOption(`maxBytes must be at least 4 (one code point); got ${maxBytes}`)
  // Fast path: even at 3 bytes a UTF-16 unit the string fits.
  if (s.length * 3 <= maxBytes || Buffer.byteLength(s, 'utf8') <= maxBytes) return [s]
  const out: string[] = []
  let start = 0
  let bytes = 0
  for (let i = 0; i < s.length;) {
    const c = s.codePointAt(i)!
    const units = c > 0xffff ? 2 : 1
    const b = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4
    if (bytes + b > maxBytes) {
      out.push(s.slice(start, i))
      start = i
      bytes = 0
    }
    bytes += b
    i += units
  }
  if (start < s.length) out.push(s.slice(start))
  return out
}

/** Options of {@link LineSplitter}. */
export interface LineSplitterOptions {
  /** Longest piece emitted, in UTF-8 bytes. @default 262,118 (256 KB − 26: one CloudWatch Logs event) */
  maxLineBytes?: number
}

/**
 * Feeds bytes in, calls `onLine` for every complete line (or piece of an over-long line),
 * in order, synchronously.
 */
export class LineSplitter {
  readonly maxLineBytes: number
  readonly #onLine: (line: string) => void
  /** Bytes of the unfinished line. */
  #parts: Buffer[] = []
  #partBytes = 0
  /** The unfinished line was already cut (its first pieces were emitted). */
  #continued = false

  constructor (onLine: (line: string) => void, options: LineSplitterOptions = {}) {
    const max = options.maxLineBytes ?? kMaxEventMessageBytes
    if (!(Number.isSafeInteger(max) && max >= 4)) throw invalidOption(`options.maxLineBytes must be an integer >= 4; got ${String(max)}`)
    this.maxLineBytes = max
    this.#onLine = onLine
  }

  /** Adds a chunk of the stream. */
  push (chunk: Buffer | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk
    let from = 0
    for (;;) {
      const nl = buf.indexOf(0x0a, from)
      if (nl < 0) break
      this.#append(buf.subarray(from, nl))
      this.#finishLine(true)
      from = nl + 1
    }
    if (from < buf.length) this.#append(buf.subarray(from))
  }

  /** The stream ended: emits the last line when it had no newline. */
  end (): void {
    if (this.#partBytes > 0) this.#finishLine(false)
    this.#continued = false
  }

  #append (b: Buffer): void {
    if (b.length === 0) return
    this.#parts.push(b)
    this.#partBytes += b.length
    // Cut an over-long unfinished line as soon as a full piece is there, at a character
    // boundary (a UTF-8 lead byte), so memory stays bounded.
    while (this.#partBytes > this.maxLineBytes) {
      const all = this.#take()
      let cut = this.maxLineBytes
      while (cut > 0 && (all[cut] & 0xc0) === 0x80) cut--
      if (cut === 0) cut = this.maxLineBytes // not UTF-8 at all: any cut will do
      this.#emit(all.subarray(0, cut))
      this.#continued = true
      const rest = all.subarray(cut)
      this.#parts = rest.length > 0 ? [rest] : []
      this.#partBytes = rest.length
    }
  }

  #take (): Buffer {
    return this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts, this.#partBytes)
  }

  #finishLine (newline: boolean): void {
    let line = this.#take()
    this.#parts = []
    this.#partBytes = 0
    if (newline && line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1)
    // The tail of a line that was cut already went out in pieces: an empty tail adds nothing.
    if (line.length === 0 && this.#continued) { this.#continued = false; return }
    this.#continued = false
    this.#emit(line)
  }

  #emit (bytes: Buffer): void {
    const text = bytes.toString('utf8')
    // Invalid bytes decode to U+FFFD (3 bytes each), so the text may be longer than the bytes.
    for (const piece of splitUtf8(text, this.maxLineBytes)) this.#onLine(piece)
  }
}
