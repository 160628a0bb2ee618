/**
 * The histogram of one series in one minute: exact SampleCount / Sum / Minimum / Maximum
 * beside log-linear buckets of the values.
 *
 * Why not hdr-histogram-js on the hot path: its `recordValue` costs several times this one's
 * record, and its pure-JS build ten times (bench/micro.mjs measures both builds beside
 * `handle.record()` in one run; the README's speed table has the figures). The bucket index below reads the IEEE-754 bits of the value: the exponent
 * picks the octave and the top `precisionBits` of the mantissa the sub-bucket, which costs
 * 2–3 ns, works for non-integers at the same relative accuracy (no scaling step, nothing
 * truncated), and needs no range fixed in advance.
 *
 * Accuracy: a bucket spans [a, a·(1 + 2^-p)). It is published as r = 2ab/(a+b), whose
 * relative distance to any value of the bucket is at most 2^-p / (2 + 2^-p): 0.78% for the
 * default p = 6, 0.39% for p = 7.
 *
 * Zero is counted in its own bucket; negative values go to a mirrored histogram of their
 * magnitudes. Exact statistics do not depend on the histogram at all.
 */

const kF64 = new Float64Array(1)
const kU32 = new Uint32Array(kF64.buffer)
/** Index of the high 32-bit word of a float64 in `kU32`: 1 on little-endian hosts. */
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0
const LO = 1 - HI

/** Precision bits allowed: 4 (≤3.0% error) .. 10 (≤0.05%). */
export const kMinPrecisionBits = 4
export const kMaxPrecisionBits = 10
export const kDefaultPrecisionBits = 6

/** Worst-case relative error of a published bucket value for `p` precision bits. */
export function relativeErrorBound (p: number): number {
  const w = 2 ** -p
  return w / (2 + w)
}

/**
 * A chunk holds the 2^p sub-bucket counts of one octave. Counts are Uint32 while every weight
 * is a whole number (the usual case: a chunk is then 256 bytes at p = 6) and Float64 once a
 * fractional weight arrives (a StatsD sample rate of 0.3 weighs 3.33…); see `#promote`.
 */
type Chunk = Uint32Array | Float64Array
type Chunks = Array<Chunk | undefined>

/**
 * Chunks are carved out of shared 256 KB slabs (a typed array of its own costs ~190 bytes of
 * overhead, a view on a slab ~100) and recycled through free lists, so that rolling a minute
 * neither churns the GC nor returns memory the next minute needs again.
 */
class ChunkPool {
  readonly #free = new Map<number, Chunk[]>()
  #pooledBytes = 0
  #slab: ArrayBuffer | null = null
  #slabOff = 0
  static readonly kSlabBytes = 256 * 1024
  static readonly kMaxPooledBytes = 512 * 1024 * 1024

  take (float: boolean, size: number): Chunk {
    const key = float ? -size : size
    const c = this.#free.get(key)?.pop()
    if (c !== undefined) { this.#pooledBytes -= c.byteLength; return c }
    const bytes = size * (float ? 8 : 4)
    if (bytes > ChunkPool.kSlabBytes) return float ? new Float64Array(size) : new Uint32Array(size)
    if (this.#slab === null || this.#slabOff + bytes > ChunkPool.kSlabBytes) { this.#slab = new ArrayBuffer(ChunkPool.kSlabBytes); this.#slabOff = 0 }
    const off = this.#slabOff
    this.#slabOff += bytes
    return float ? new Float64Array(this.#slab, off, size) : new Uint32Array(this.#slab, off, size)
  }

  give (c: Chunk): void {
    if (this.#pooledBytes >= ChunkPool.kMaxPooledBytes) return
    c.fill(0)
    const key = c instanceof Float64Array ? -c.length : c.length
    let list = this.#free.get(key)
    if (list === undefined) { list = []; this.#free.set(key, list) }
    list.push(c)
    this.#pooledBytes += c.byteLength
  }
}
const kPool = new ChunkPool()

/**
 * The version of the packed layout ({@link Histogram.packInto}). One layout serves three
 * contracts — the worker → main thread message, the on-disk checkpoint, and the merge of
 * either — so each carries this number, and a reader meeting another one says so instead of
 * misreading the floats. Bump it with any change to the layout.
 */
export const kPackedLayout = 1

/** The populated buckets as parallel arrays, ascending by value. */
export interface Distribution { values: number[], counts: number[], keys: number[] }

/** The key of the zero bucket. */
export const kZeroKey = 0x7fffffff

const kRepTables = new Map<number, Float64Array>()
const kLenTables = new Map<number, Uint8Array>()

/** Bucket values by key for precision p, NaN until first computed (8 · 2^(11+p) bytes, allocated on first use). */
function repTable (p: number): Float64Array {
  let t = kRepTables.get(p)
  if (t === undefined) { t = new Float64Array(2048 << p).fill(NaN); kRepTables.set(p, t) }
  return t
}

function fillRep (t: Float64Array, k: number, p: number): number {
  const mask = (1 << p) - 1
  const r = representative(boundOf(k >>> p, k & mask, p), boundOf(k >>> p, (k & mask) + 1, p))
  t[k] = r
  return r
}

/** [lower, upper) of a bucket by its key (upper exclusive; for negatives, lower is exclusive). */
export function bucketBounds (key: number, p: number): [number, number] {
  if (key === kZeroKey) return [0, 0]
  const mask = (1 << p) - 1
  const k = key < 0 ? -1 - key : key
  const lo = boundOf(k >>> p, k & mask, p)
  const up = boundOf(k >>> p, (k & mask) + 1, p)
  return key < 0 ? [-up, -lo] : [lo, up]
}

/**
 * Length of the bucket's published value as JSON (what `String(value)` gives), from a table:
 * converting a double to its shortest string is the costliest step of sizing a datum, and a
 * bucket's value never changes.
 */
export function valueLength (key: number, p: number): number {
  if (key === kZeroKey) return 1
  let t = kLenTables.get(p)
  if (t === undefined) { t = new Uint8Array(2048 << p); kLenTables.set(p, t) }
  const k = key < 0 ? -1 - key : key
  let n = t[k]
  if (n === 0) {
    const reps = repTable(p)
    let r = reps[k]
    if (r !== r) r = fillRep(reps, k, p)
    n = String(r).length
    t[k] = n
  }
  return key < 0 ? n + 1 : n
}

/** One populated bucket, in ascending value order. */
export interface Bucket {
  /** The value published for the bucket, inside [lower, upper). */
  value: number
  /** Lowest value that falls in this bucket. */
  lower: number
  /** Lowest value of the next bucket. */
  upper: number
  /** Weighted number of samples. */
  count: number
}

export class Histogram {
  /** Weighted number of samples. */
  count = 0
  /** Sum, kept as an unevaluated pair sum + sumErr (TwoSum): ~106 bits, so the order in
   * which samples or partial histograms arrive does not change the published Sum. */
  sum = 0
  sumErr = 0
  min = Infinity
  max = -Infinity
  zero = 0
  readonly precisionBits: number
  readonly #shift: number
  readonly #size: number
  #pos: Chunks = []
  #posBase = 0
  #neg: Chunks = []
  #negBase = 0
  /** Counts are Float64 (a fractional weight was seen) rather than Uint32. */
  #float = false

  constructor (precisionBits = kDefaultPrecisionBits) {
    this.precisionBits = precisionBits
    this.#shift = 20 - precisionBits
    this.#size = 1 << precisionBits
  }

  /**
   * Records `v` once: the hot path of `handle.record()`. Kept small and free of weight checks:
   * a single extra branch on the weight here measured 4 → 8 ns a sample (it stops TurboFan
   * from treating this as a tiny leaf), so weights go through {@link add}.
   */
  addOne (v: number): void {
    this.count++
    const s = this.sum + v
    const bp = s - this.sum
    this.sumErr += (this.sum - (s - bp)) + (v - bp)
    this.sum = s
    if (v < this.min) this.min = v
    if (v > this.max) this.max = v
    if (this.#float) { this.#addBucket(v, 1); return }
    if (v > 0) {
      kF64[0] = v
      const hi = kU32[HI]
      const i = (hi >>> 20) - this.#posBase
      const c = (i >>> 0) < this.#pos.length ? this.#pos[i] as Uint32Array | undefined : undefined
      if (c !== undefined) { c[(hi & 0xFFFFF) >>> this.#shift]++; return }
      this.#addSlow(false, hi, 1)
    } else {
      this.#addBucket(v, 1)
    }
  }

  /** Records `v` with weight `w`. The caller has validated both (finite, in range, w > 0). */
  add (v: number, w: number): void {
    if (w === 1) { this.addOne(v); return }
    // Whole weights up to 2^16 keep Uint32 counts (a bucket then overflows only past 4.29
    // billion samples in one minute); anything else switches this histogram to Float64.
    if (!this.#float && !(w <= 0xFFFF && w === Math.floor(w))) this.#promote()
    this.count += w
    this.#addSum(v * w)
    if (v < this.min) this.min = v
    if (v > this.max) this.max = v
    this.#addBucket(v, w)
  }

  /**
   * The bucket update off the hot path (weights, zero, negatives, Float64 counts): one site
   * for both count kinds, which `addOne` keeps apart from its own monomorphic Uint32 store.
   */
  #addBucket (v: number, w: number): void {
    if (v > 0) {
      kF64[0] = v
      const hi = kU32[HI]
      const i = (hi >>> 20) - this.#posBase
      const c = (i >>> 0) < this.#pos.length ? this.#pos[i] : undefined
      if (c !== undefined) { c[(hi & 0xFFFFF) >>> this.#shift] += w; return }
      this.#addSlow(false, hi, w)
    } else if (v < 0) {
      kF64[0] = -v
      const hi = kU32[HI]
      const i = (hi >>> 20) - this.#negBase
      const c = (i >>> 0) < this.#neg.length ? this.#neg[i] : undefined
      if (c !== undefined) { c[(hi & 0xFFFFF) >>> this.#shift] += w; return }
      this.#addSlow(true, hi, w)
    } else {
      this.zero += w
    }
  }

  #addSlow (negative: boolean, hi: number, w: number): void {
    const e = hi >>> 20
    this.#chunkFor(negative, e)[(hi & 0xFFFFF) >>> this.#shift] += w
  }

  /** The chunk of octave `e`, allocated (and the window grown) when missing. */
  #chunkFor (negative: boolean, e: number): Chunk {
    let chunks = negative ? this.#neg : this.#pos
    let base = negative ? this.#negBase : this.#posBase
    if (chunks.length === 0) {
      base = e
    } else if (e < base) {
      const grown: Chunks = new Array(base - e).fill(undefined)
      chunks = grown.concat(chunks)
      base = e
    }
    const i = e - base
    while (chunks.length <= i) chunks.push(undefined)
    let c = chunks[i]
    if (c === undefined) { c = kPool.take(this.#float, this.#size); chunks[i] = c }
    if (negative) { this.#neg = chunks; this.#negBase = base } else { this.#pos = chunks; this.#posBase = base }
    return c
  }

  /** Switches the counts to Float64 (once): copies every chunk into a Float64 one. */
  #promote (): void {
    if (this.#float) return
    this.#float = true
    for (const chunks of [this.#pos, this.#neg]) {
      for (let i = 0; i < chunks.length; i++) {
        const c = chunks[i]
        if (c === undefined) continue
        const f = kPool.take(true, this.#size)
        f.set(c)
        kPool.give(c)
        chunks[i] = f
      }
    }
  }

  /** Adds everything of `o` into this histogram. Exact: counts add, min/max compare, sums add as pairs. */
  merge (o: Histogram): void {
    if (o.precisionBits !== this.precisionBits) throw new RangeError('cannot merge histograms of different precision')
    if (o.count === 0) return
    if (o.#float) this.#promote()
    this.count += o.count
    this.#addSum(o.sum)
    this.sumErr += o.sumErr
    if (o.min < this.min) this.min = o.min
    if (o.max > this.max) this.max = o.max
    this.zero += o.zero
    this.#mergeChunks(false, o.#pos, o.#posBase)
    this.#mergeChunks(true, o.#neg, o.#negBase)
  }

  #addSum (x: number): void {
    const s = this.sum + x
    const bp = s - this.sum
    this.sumErr += (this.sum - (s - bp)) + (x - bp)
    this.sum = s
  }

  #mergeChunks (negative: boolean, chunks: Chunks, base: number): void {
    for (let i = 0; i < chunks.length; i++) {
      const src = chunks[i]
      if (src === undefined) continue
      const dst = this.#chunkFor(negative, base + i)
      for (let j = 0; j < src.length; j++) dst[j] += src[j]
    }
  }

  /** The exact Sum as one double. */
  get total (): number { return this.sum + this.sumErr }

  /**
   * An upper bound of the sum of magnitudes Σ |value × count| of the samples held (what the
   * minute-total check bounds, see samples/checks.ts): |Sum| itself when every sample has one
   * sign, else Σ count × |outer bucket edge| over the buckets. Off the hot path: it walks the
   * buckets of a histogram holding both signs.
   */
  magnitudeBound (): number {
    if (this.count === 0) return 0
    if (this.min >= 0 || this.max <= 0) return Math.abs(this.total)
    let n = 0
    const p = this.precisionBits
    for (const [chunks, base] of [[this.#pos, this.#posBase], [this.#neg, this.#negBase]] as Array<[Chunks, number]>) {
      for (let i = 0; i < chunks.length; i++) {
        const c = chunks[i]
        if (c !== undefined) n += chunkMagnitude(c, base + i, p)
      }
    }
    return n
  }

  /** {@link magnitudeBound} of the packed histogram at `off`, without reading it into anything. */
  static packedMagnitudeBound (buf: Float64Array, off: number, precisionBits: number): number {
    const count = buf[off]; const total = buf[off + 1] + buf[off + 2]; const min = buf[off + 3]; const max = buf[off + 4]
    if (!(count > 0)) return count === 0 ? 0 : Infinity
    if (total !== total) return Infinity
    if (min >= 0 || max <= 0) return Math.abs(total)
    const size = 1 << precisionBits
    let n = 0
    off += 6
    for (let side = 0; side < 2; side++) {
      const chunks = buf[off++]
      for (let k = 0; k < chunks; k++) {
        n += chunkMagnitude(buf.subarray(off + 1, off + 1 + size), buf[off], precisionBits)
        off += 1 + size
      }
    }
    return n
  }

  /**
   * The populated buckets in ascending order of value (negatives, zero, positives) as
   * parallel arrays: no object per bucket, since a seal walks every bucket of every series.
   * `keys` identify buckets for {@link bucketBounds} and {@link valueLength}: `(e << p) | j`
   * for positive buckets, `-1 - ((e << p) | j)` for negative ones, and `kZeroKey` for zero.
   * Bucket values come from a per-precision table: a bucket's value never changes.
   */
  distribution (): Distribution {
    const d: Distribution = { values: [], counts: [], keys: [] }
    const p = this.precisionBits
    const reps = repTable(p)
    for (let i = this.#neg.length - 1; i >= 0; i--) {
      const c = this.#neg[i]
      if (c === undefined) continue
      const base = (this.#negBase + i) << p
      for (let j = c.length - 1; j >= 0; j--) {
        if (c[j] === 0) continue
        const k = base | j
        let r = reps[k]
        if (r !== r) r = fillRep(reps, k, p)
        d.values.push(-r); d.counts.push(c[j]); d.keys.push(-1 - k)
      }
    }
    if (this.zero > 0) { d.values.push(0); d.counts.push(this.zero); d.keys.push(kZeroKey) }
    for (let i = 0; i < this.#pos.length; i++) {
      const c = this.#pos[i]
      if (c === undefined) continue
      const base = (this.#posBase + i) << p
      for (let j = 0; j < c.length; j++) {
        if (c[j] === 0) continue
        const k = base | j
        let r = reps[k]
        if (r !== r) r = fillRep(reps, k, p)
        d.values.push(r); d.counts.push(c[j]); d.keys.push(k)
      }
    }
    return d
  }

  /** Populated buckets in ascending order of value: negatives, zero, positives. */
  buckets (): Bucket[] {
    const d = this.distribution()
    return d.values.map((value, i) => {
      const [lower, upper] = bucketBounds(d.keys[i], this.precisionBits)
      return { value, lower, upper, count: d.counts[i] }
    })
  }

  /** Number of populated buckets. */
  get bucketCount (): number {
    let n = this.zero > 0 ? 1 : 0
    for (const cs of [this.#pos, this.#neg]) {
      for (const c of cs) if (c !== undefined) for (let j = 0; j < c.length; j++) if (c[j] !== 0) n++
    }
    return n
  }

  /** Bytes held by the histogram's chunks (for memory accounting). */
  get histogramBytes (): number {
    let n = 0
    for (const c of this.#pos) if (c !== undefined) n += c.byteLength
    for (const c of this.#neg) if (c !== undefined) n += c.byteLength
    return n
  }

  /**
   * The value at quantile `q` (0..1) by nearest rank over the buckets, clamped to [min, max]:
   * what CloudWatch computes from the published Values/Counts.
   */
  quantile (q: number): number {
    if (this.count === 0) return NaN
    const rank = Math.max(1, Math.ceil(q * this.count))
    let seen = 0
    for (const b of this.buckets()) {
      seen += b.count
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, b.value))
    }
    return this.max
  }

  /** Returns the chunks to the pool and empties the histogram. */
  release (): void {
    for (const c of this.#pos) if (c !== undefined) kPool.give(c)
    for (const c of this.#neg) if (c !== undefined) kPool.give(c)
    this.#pos = []
    this.#neg = []
    this.#float = false
    this.count = 0; this.sum = 0; this.sumErr = 0; this.min = Infinity; this.max = -Infinity; this.zero = 0
  }

  /**
   * Packed form for thread handoff and the checkpoint: one Float64Array for a whole batch of
   * histograms, moved (not copied) between threads. Layout {@link kPackedLayout} 1: count,
   * sum, sumErr, min, max, zero, then for pos and neg: nChunks, and per chunk: octave, 2^p
   * counts.
   */
  packedLength (): number {
    let n = 8
    for (const c of this.#pos) if (c !== undefined) n += 1 + this.#size
    for (const c of this.#neg) if (c !== undefined) n += 1 + this.#size
    return n
  }

  /** Writes the packed form at `off`; returns the offset after it. */
  packInto (buf: Float64Array, off: number): number {
    buf[off++] = this.count; buf[off++] = this.sum; buf[off++] = this.sumErr
    buf[off++] = this.min; buf[off++] = this.max; buf[off++] = this.zero
    for (const [chunks, base] of [[this.#pos, this.#posBase], [this.#neg, this.#negBase]] as Array<[Chunks, number]>) {
      let n = 0
      for (const c of chunks) if (c !== undefined) n++
      buf[off++] = n
      for (let i = 0; i < chunks.length; i++) {
        const c = chunks[i]
        if (c === undefined) continue
        buf[off++] = base + i
        buf.set(c, off)
        off += c.length
      }
    }
    return off
  }

  /** Merges a packed histogram (same precision) found at `off`; returns the offset after it. */
  mergePacked (buf: Float64Array, off: number): number {
    if (!this.#float) {
      const end = Histogram.skipPacked(buf, off, this.precisionBits)
      if (!wholeCounts(buf, off, end, this.#size)) this.#promote()
    }
    const count = buf[off++]; const sum = buf[off++]; const sumErr = buf[off++]
    const min = buf[off++]; const max = buf[off++]; const zero = buf[off++]
    this.count += count
    this.#addSum(sum)
    this.sumErr += sumErr
    if (min < this.min) this.min = min
    if (max > this.max) this.max = max
    this.zero += zero
    for (let side = 0; side < 2; side++) {
      const n = buf[off++]
      for (let k = 0; k < n; k++) {
        const e = buf[off++]
        const dst = this.#chunkFor(side === 1, e)
        for (let j = 0; j < this.#size; j++) dst[j] += buf[off + j]
        off += this.#size
      }
    }
    return off
  }

  /**
   * Adds everything of `o`, a histogram of another precision: the exact statistics add as in
   * {@link merge}; each of its buckets goes to the bucket of this precision that holds its
   * published value. Into a coarser precision that is exact (a finer bucket lies inside one
   * coarser bucket); into a finer one, those samples keep `o`'s accuracy.
   */
  mergeRebucketed (o: Histogram): void {
    if (o.precisionBits === this.precisionBits) { this.merge(o); return }
    if (o.count === 0) return
    const d = o.distribution()
    if (!this.#float && (o.#float || d.counts.some(c => c > 0xFFFF))) this.#promote()
    this.count += o.count
    this.#addSum(o.sum)
    this.sumErr += o.sumErr
    if (o.min < this.min) this.min = o.min
    if (o.max > this.max) this.max = o.max
    for (let i = 0; i < d.values.length; i++) this.#addBucket(d.values[i], d.counts[i])
  }

  /** The offset after the packed histogram at `off`, without reading it into anything. */
  static skipPacked (buf: Float64Array, off: number, precisionBits: number): number {
    const size = 1 << precisionBits
    off += 6
    for (let side = 0; side < 2; side++) { const n = buf[off++]; off += n * (1 + size) }
    return off
  }

  /** A plain, structured-clone-able form (for worker threads and the spool). */
  toJSON (): HistogramData {
    const pos: Array<[number, number[]]> = []
    const neg: Array<[number, number[]]> = []
    this.#pos.forEach((c, i) => { if (c !== undefined) pos.push([this.#posBase + i, Array.from(c)]) })
    this.#neg.forEach((c, i) => { if (c !== undefined) neg.push([this.#negBase + i, Array.from(c)]) })
    return { p: this.precisionBits, count: this.count, sum: this.sum, sumErr: this.sumErr, min: this.min, max: this.max, zero: this.zero, pos, neg }
  }

  /** Rebuilds a histogram from {@link toJSON}'s form. */
  static fromJSON (d: HistogramData): Histogram {
    const a = new Histogram(d.p)
    if ([...d.pos, ...d.neg].some(([, arr]) => arr.some(x => x !== Math.floor(x) || x > 0xFFFFFFFF))) a.#promote()
    a.count = d.count; a.sum = d.sum; a.sumErr = d.sumErr; a.min = d.min; a.max = d.max; a.zero = d.zero
    for (const [e, arr] of d.pos) a.#chunkFor(false, e).set(arr)
    for (const [e, arr] of d.neg) a.#chunkFor(true, e).set(arr)
    return a
  }
}

/** Serialised form of an {@link Histogram}; `pos`/`neg` are [octave, counts] pairs. */
export interface HistogramData {
  p: number
  count: number
  sum: number
  sumErr: number
  min: number
  max: number
  zero: number
  pos: Array<[number, number[]]>
  neg: Array<[number, number[]]>
}

/** True when every bucket count of the packed histogram in buf[off, end) fits a Uint32. */
function wholeCounts (buf: Float64Array, off: number, end: number, size: number): boolean {
  if (buf[off + 5] !== Math.floor(buf[off + 5])) return false   // the zero count
  off += 6
  for (let side = 0; side < 2 && off < end; side++) {
    const n = buf[off++]
    for (let k = 0; k < n; k++) {
      off++   // octave
      for (let j = 0; j < size; j++) { const x = buf[off + j]; if (x !== Math.floor(x) || x > 0xFFFFFFFF) return false }
      off += size
    }
  }
  return true
}

/** Σ count × the bucket's upper edge over the sub-buckets of octave `e` (magnitudes). */
function chunkMagnitude (c: ArrayLike<number>, e: number, p: number): number {
  let n = 0
  for (let j = 0; j < c.length; j++) if (c[j] !== 0) n += c[j] * boundOf(e, j + 1, p)
  return n
}

/** The lower bound of sub-bucket `j` of octave `e` (j may equal 2^p: the next octave's start). */
function boundOf (e: number, j: number, p: number): number {
  if (j === 1 << p) { e += 1; j = 0 }
  kU32[HI] = ((e << 20) | (j << (20 - p))) >>> 0
  kU32[LO] = 0
  return kF64[0]
}

/** The point of [a, b) whose largest relative distance to the ends is smallest. */
function representative (a: number, b: number): number {
  return 2 * a * (b / (a + b))
}
