/**
 * StatsD / DogStatsD line parser for the sidecar's UDP listener.
 *
 * Wire format, one metric a line, several lines a datagram (`\n`, `\r\n` tolerated):
 *
 * ```
 * <name>:<value>[:<value>...]|<type>[|@<rate>][|#<tag>,<tag>...][|T<unix seconds>][|<ext>:<...>]
 * ```
 *
 * Treatments chosen here (each one is documented on {@link parseStatsd} too):
 * - `ms` timer -> Milliseconds; `h` histogram, `d` distribution, `g` gauge -> None; `c` counter -> Count.
 *   A per-metric unit map overrides the type default (ModelLatency -> Microseconds).
 * - Gauge values prefixed with `+` are deltas (etsy StatsD, hot-shots `gaugeDelta`): rejected as
 *   `unsupported_type`, because minutely aggregates gauge *samples* into a 1-minute statistic and a
 *   delta has no meaning without server-side gauge state. A `-` prefix is read as a negative
 *   absolute value (DogStatsD semantics): `-5|g` cannot be told apart from `gauge(name, -5)`.
 * - Sets (`s`), DogStatsD events (`_e{`) and service checks (`_sc|`) -> `unsupported_type`.
 * - A tag without `:` (`|#canary`) becomes the dimension `{canary: "true"}` (configurable, or rejected).
 * - A tag key that appears twice in one line -> `dimension_invalid`: keeping one would make the
 *   series depend on tag order.
 * - Extension fields of the form `|<letters>:<...>` (`|c:` container id, `|e:` external data,
 *   `|card:` cardinality, as hot-shots >= 16 appends in Datadog mode) are accepted and ignored, as
 *   the Datadog agent does. Any other unknown field -> `malformed`.
 * - A line is atomic: a multi-value line with one bad value is rejected whole, so every non-empty
 *   line yields either exactly one `reject` or one `sample` per value.
 */
import type { RejectReason } from '../samples/reasons.js'
import type { SampleReceiver } from '../samples/receiver.js'
import { nonNumberReason } from '../samples/checks.js'
import { quote as quoteText } from '../samples/show.js'

/** A StatsD metric type minutely aggregates. Sets (`s`) are not among them. */
export type StatsdType = 'ms' | 'h' | 'd' | 'c' | 'g'

/**
 * Options for {@link parseStatsd}. Reuse one object and do not change it after first use: the
 * unit table and the tag cache are derived once per options object (held in a WeakMap).
 */
export interface StatsdParseOptions {
  /**
   * Metric name -> CloudWatch unit, overriding the type's default unit for that metric
   * (e.g. `{ ModelLatency: 'Microseconds' }` for a timer reported in µs).
   */
  units?: ReadonlyMap<string, string> | Readonly<Record<string, string>>
  /**
   * Unit per StatsD type when the unit map does not name the metric. Defaults:
   * `ms` Milliseconds, `h` None, `d` None, `c` Count, `g` None. `undefined` leaves it to the receiver.
   */
  defaultUnits?: Partial<Readonly<Record<StatsdType, string | undefined>>>
  /** Longest accepted line, in characters (UTF-16 units). Longer lines are rejected as `too_large`. Default 8192. */
  maxLineLength?: number
  /**
   * Dimension value given to a tag without `:` (`|#canary` -> `{ canary: 'true' }`). Default `'true'`.
   * `false` rejects such lines as `dimension_invalid` instead.
   */
  bareTagValue?: string | false
  /** Namespace passed with every sample; undefined leaves it to the receiver's default. */
  namespace?: string
  /** Distinct tag strings whose parsed dimensions are cached (the cache is cleared when full). Default 4096. */
  tagCacheSize?: number
  /** Distinct metric names cached with their unit (the cache is cleared when full). Default 4096. */
  nameCacheSize?: number
}

const kDefaultUnits: Readonly<Record<StatsdType, string | undefined>> = {
  ms: 'Milliseconds', h: 'None', d: 'None', c: 'Count', g: 'None',
}
const kDefaultMaxLineLength = 8192
const kDefaultCacheSize = 4096
/** Echoed input is cut to this many characters so a hostile line cannot bloat logs or answers. */
const kEchoMax = 80

// Character codes used by the scanner.
const C_CR = 13
const C_HASH = 35
const C_PLUS = 43
const C_COMMA = 44
const C_MINUS = 45
const C_DOT = 46
const C_0 = 48
const C_9 = 57
const C_COLON = 58
const C_AT = 64
const C_E_UP = 69
const C_T_UP = 84
const C_UNDERSCORE = 95
const C_E_LO = 101

/** Type codes, small integers so the hot path switches on numbers. */
const T_MS = 0
const T_H = 1
const T_D = 2
const T_C = 3
const T_G = 4

/**
 * A tag string's parse result: the dimensions object (shared by every line with that tag string,
 * frozen so no receiver can change what other series see), or an error text for `dimension_invalid`.
 */
type TagEntry = Readonly<Record<string, string>> | string

/** A cached tags string (detached, see {@link detach}) and its parse result. */
interface TagSlot { tags: string, entry: TagEntry }

/** A cached metric name (detached) and its unit from the unit map (undefined: the type's default). */
interface NameSlot { name: string, unit: string | undefined }

/** Per-options state derived once: the unit table and the tag cache. */
interface Compiled {
  unitMap: Map<string, string> | undefined
  typeUnits: Array<string | undefined>
  maxLine: number
  bareTagValue: string | false
  namespace: string | undefined
  tagCache: Map<string, TagSlot>
  tagCacheSize: number
  nameCache: Map<string, NameSlot>
  nameCacheSize: number
  // Direct-mapped tables in front of the maps, indexed by a hash of at most 16 characters read
  // in place: a hit costs those reads, a slice and one `===` (a native compare; the slice
  // dies young), but no hash of the whole string as Map.get on a fresh slice does. A miss or
  // a collision falls back to the maps and takes the table slot. On 20-line DogStatsD
  // datagrams this took parsing from ~285 to ~225 ns a line (startsWith(x, pos) instead of
  // slice + === was slower than the maps).
  nameTable: Array<NameSlot | undefined>
  tagTable: Array<TagSlot | undefined>
}

/** Slots of the direct-mapped tables (a power of two). */
const kTableSize = 1024
const kTableMask = kTableSize - 1

const compiledByOptions = new WeakMap<StatsdParseOptions, Compiled>()

function compile (options: StatsdParseOptions): Compiled {
  let c = compiledByOptions.get(options)
  if (c !== undefined) return c
  let unitMap: Map<string, string> | undefined
  if (options.units instanceof Map) {
    unitMap = new Map(options.units)
  } else if (options.units !== undefined && options.units !== null) {
    // A plain object is copied into a Map: indexing it with a received name would find
    // inherited members ("constructor", "__proto__").
    unitMap = new Map(Object.entries(options.units as Record<string, string>))
  }
  if (unitMap !== undefined && unitMap.size === 0) unitMap = undefined
  const du = { ...kDefaultUnits, ...options.defaultUnits }
  const maxLine = options.maxLineLength !== undefined && options.maxLineLength > 0
    ? Math.floor(options.maxLineLength)
    : kDefaultMaxLineLength
  const size = (n: number | undefined): number => n !== undefined && n >= 0 ? Math.floor(n) : kDefaultCacheSize
  c = {
    unitMap,
    typeUnits: [du.ms, du.h, du.d, du.c, du.g],
    maxLine,
    bareTagValue: options.bareTagValue === undefined ? 'true' : options.bareTagValue,
    namespace: options.namespace,
    tagCache: new Map(),
    tagCacheSize: size(options.tagCacheSize),
    nameCache: new Map(),
    nameCacheSize: size(options.nameCacheSize),
    nameTable: new Array<NameSlot | undefined>(kTableSize).fill(undefined),
    tagTable: new Array<TagSlot | undefined>(kTableSize).fill(undefined),
  }
  compiledByOptions.set(options, c)
  return c
}

const kEmptyOptions: StatsdParseOptions = Object.freeze({})

/**
 * Parses one StatsD / DogStatsD datagram (or any chunk of whole lines) and reports every value
 * to `receiver`. Never throws on bad input: each bad line produces exactly one
 * `receiver.reject(reason, message)` and does not affect the lines around it.
 *
 * Supported: types `ms`, `h`, `d`, `c`, `g`; several values a line (`name:1:2:3|d`); sample rate
 * `|@r` with r in (0, 1] (the value's weight `count` becomes 1/r, counters included: a counter's
 * value is its contribution to Sum); DogStatsD tags `|#k:v,k2:v2` (dimensions); `|T<unix seconds>`
 * timestamps; `|c:`, `|e:`, `|card:` and other `|<letters>:` extension fields are ignored.
 *
 * Rejected: `+`-prefixed gauge deltas and sets (`unsupported_type`), events `_e{` and service checks
 * `_sc|` (`unsupported_type`), NaN / non-numeric values (`not_a_number`), ±Infinity and overflow
 * (`not_finite`), sample rates outside (0, 1] (`count_invalid`), bad `T` timestamps
 * (`timestamp_invalid`), repeated tag keys or bare tags when disabled (`dimension_invalid`), lines
 * over `maxLineLength` (`too_large`), anything else that does not parse (`malformed`).
 *
 * Names, units and dimension limits are left to the receiver to validate.
 *
 * @param data     the datagram: bytes (decoded as UTF-8) or a string
 * @param receiver gets one `sample` call per value, or one `reject` per bad line
 * @param options  units, limits and tag treatment; reuse the same object (its derived tables are cached)
 */
export function parseStatsd (data: Uint8Array | string, receiver: SampleReceiver, options?: StatsdParseOptions): void {
  const c = compile(options ?? kEmptyOptions)
  // One native UTF-8 decode per datagram, then index arithmetic on char codes: names and tag
  // strings must become strings anyway, so decoding once beats decoding slice by slice. A line
  // allocates only two short-lived slices (name, tags) to look up cached, detached strings and
  // dimension objects; values are parsed in place. `\n` never occurs inside a UTF-8 multi-byte
  // sequence, so line boundaries are the same in bytes and in text.
  const s = typeof data === 'string' ? data : decodeUtf8(data)
  const len = s.length
  let pos = 0
  let lineNo = 0
  // Positions of the next "|" and ":" at or after `pos` (len when none). Native indexOf (memchr)
  // is several times faster than a char loop, but unbounded it can run past the line end; keeping
  // the answer until `pos` passes it means every character is scanned at most once per
  // separator, so a datagram of lines that lack one stays linear, not quadratic.
  let pipeAt = -1
  let colonAt = -1
  while (pos < len) {
    let eol = s.indexOf('\n', pos)
    if (eol < 0) eol = len
    lineNo++
    let end = eol
    if (end > pos && s.charCodeAt(end - 1) === C_CR) end--
    if (end > pos) {
      if (end - pos > c.maxLine) {
        receiver.reject('too_large', `statsd line ${lineNo}: ${end - pos} characters is over the limit of ${c.maxLine}: ` +
          `split the metric or raise maxLineLength (line starts ${echo(s, pos, pos + kEchoMax)})`)
      } else {
        if (pipeAt < pos) { pipeAt = s.indexOf('|', pos); if (pipeAt < 0) pipeAt = len }
        if (colonAt < pos) { colonAt = s.indexOf(':', pos); if (colonAt < 0) colonAt = len }
        const pipe = pipeAt < end ? pipeAt : -1
        const colon = colonAt < (pipe >= 0 ? pipe : end) ? colonAt : -1
        parseLine(s, pos, end, pipe, colon, lineNo, receiver, c)
      }
    }
    pos = eol + 1
  }
}

function decodeUtf8 (data: Uint8Array): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8')
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')
}

/** Parses `s[start, end)`; `pipe` is its first "|" and `colon` the first ":" before that (or -1). */
function parseLine (s: string, start: number, end: number, pipe: number, colon: number, lineNo: number,
  receiver: SampleReceiver, c: Compiled): void {
  const first = s.charCodeAt(start)
  if (first === C_UNDERSCORE) {
    if (s.startsWith('_e{', start)) {
      reject(receiver, 'unsupported_type', lineNo, 'DogStatsD events (_e{...}) are not metrics and are not supported: ' +
        'send them to the Datadog agent, or record a counter instead', s, start, end)
      return
    }
    if (s.startsWith('_sc|', start)) {
      reject(receiver, 'unsupported_type', lineNo, 'DogStatsD service checks (_sc|...) are not supported: ' +
        'send a gauge of the check status instead', s, start, end)
      return
    }
  }
  if (colon < 0) {
    reject(receiver, 'malformed', lineNo, 'expected "<name>:<value>|<type>": no ":" after the metric name', s, start, end)
    return
  }
  if (pipe < 0) {
    reject(receiver, 'malformed', lineNo, 'expected "<name>:<value>|<type>": no "|<type>" after the value', s, start, end)
    return
  }
  if (colon === start) {
    reject(receiver, 'metric_name_invalid', lineNo, 'the metric name before ":" is empty', s, start, end)
    return
  }

  // --- type ---
  const fieldEnd = nextPipe(s, pipe + 1, end)
  const type = typeCode(s, pipe + 1, fieldEnd)
  if (type < 0) {
    const t = s.slice(pipe + 1, fieldEnd)
    if (t === 's') {
      reject(receiver, 'unsupported_type', lineNo, 'sets (|s) are not supported: a count of unique values has no ' +
        '1-minute CloudWatch statistic here; send a gauge of the distinct count instead', s, start, end)
    } else {
      reject(receiver, 'unsupported_type', lineNo, `unknown metric type ${quote(t)}: use one of ms, h, d, c, g`, s, start, end)
    }
    return
  }

  // --- optional fields: |@rate |#tags |Tts |<ext>:... ---
  let count = 1
  let timestampMs = NaN
  let dims: Readonly<Record<string, string>> | undefined
  let seenRate = false
  let seenTags = false
  let seenTs = false
  let f = fieldEnd
  while (f < end) {
    const fs = f + 1
    const fe = nextPipe(s, fs, end)
    const fc = fs < fe ? s.charCodeAt(fs) : -1
    if (fc === -1) {
      // An empty field ("name:1|c|" or "||") carries nothing; tolerated rather than losing the line.
    } else if (fc === C_AT) {
      if (seenRate) { reject(receiver, 'malformed', lineNo, 'the sample rate field "|@" appears twice', s, start, end); return }
      seenRate = true
      const rate = parseNumber(s, fs + 1, fe)
      // 1 / rate overflows to Infinity for subnormal rates (5e-324): the weight must stay finite.
      if (!(rate > 0 && rate <= 1) || 1 / rate === Infinity) {
        reject(receiver, 'count_invalid', lineNo, `sample rate ${quote(s.slice(fs, fe))} must be in (0, 1]: got ` +
          `${quote(s.slice(fs + 1, fe))}`, s, start, end)
        return
      }
      count = 1 / rate
    } else if (fc === C_HASH) {
      if (seenTags) { reject(receiver, 'malformed', lineNo, 'the tags field "|#" appears twice: put all tags in one', s, start, end); return }
      seenTags = true
      if (fe > fs + 1) {
        const entry = tagsAt(s, fs + 1, fe, c)
        if (typeof entry === 'string') {
          reject(receiver, 'dimension_invalid', lineNo, entry, s, start, end)
          return
        }
        if (entry !== kNoDims) dims = entry
      }
    } else if (fc === C_T_UP) {
      if (seenTs) { reject(receiver, 'malformed', lineNo, 'the timestamp field "|T" appears twice', s, start, end); return }
      seenTs = true
      const sec = parseNumber(s, fs + 1, fe)
      if (!(sec >= 0 && sec < Infinity)) {
        reject(receiver, 'timestamp_invalid', lineNo, `timestamp ${quote(s.slice(fs, fe))} must be "T" followed by ` +
          'unix seconds (a non-negative number)', s, start, end)
        return
      }
      timestampMs = sec * 1000
    } else if (isExtensionField(s, fs, fe)) {
      // DogStatsD extension fields (|c: container id, |e: external data, |card: cardinality)
      // carry routing hints for the Datadog agent. They do not change the value, so they are
      // skipped; rejecting them (as strict parsers do) loses every metric from a hot-shots
      // client that switched to Datadog mode because a DD_* variable was set.
    } else {
      reject(receiver, 'malformed', lineNo, `unknown field ${quote(s.slice(f, fe))}: expected |@<rate>, |#<tags>, ` +
        '|T<unix seconds> or |<name>:<value>', s, start, end)
      return
    }
    f = fe
  }

  // --- values: validate all first so a line is all-or-nothing ---
  const vs = colon + 1
  const ve = pipe
  let nValues = 0
  let single = NaN
  let a = vs
  while (true) {
    let b = find(s, C_COLON, a, ve)
    if (b < 0) b = ve
    if (type === T_G && a < b && s.charCodeAt(a) === C_PLUS) {
      reject(receiver, 'unsupported_type', lineNo, `gauge delta ${quote(s.slice(a, b))} is not supported: minutely ` +
        'aggregates gauge samples per minute and keeps no running gauge; send the absolute value', s, start, end)
      return
    }
    const v = parseNumber(s, a, b)
    const bad = nonNumberReason(v)
    if (bad !== undefined) {
      reject(receiver, bad, lineNo, bad === 'not_a_number'
        ? `value ${echo(s, a, b)} is not a number: send a decimal such as 12, -3.5 or 1.5e3`
        : `value ${echo(s, a, b)} is not finite: send a finite number`, s, start, end)
      return
    }
    if (nValues === 0) single = v
    nValues++
    if (b >= ve) break
    a = b + 1
  }

  // --- emit ---
  // The slot's name is detached from the datagram: it is what the receiver gets and may keep.
  const slot = nameAt(s, start, colon, c)
  const name = slot.name
  let unit = slot.unit
  if (unit === undefined) unit = c.typeUnits[type]
  if (nValues === 1) {
    receiver.sample(name, single, unit, dims, timestampMs, count, c.namespace)
    return
  }
  // Multi-value line: parse again rather than keep a per-line array; values are already validated.
  a = vs
  while (true) {
    let b = find(s, C_COLON, a, ve)
    if (b < 0) b = ve
    receiver.sample(name, parseNumber(s, a, b), unit, dims, timestampMs, count, c.namespace)
    if (b >= ve) break
    a = b + 1
  }
}

/** Maps the type field to a type code; -1 for anything else (including sets). */
function typeCode (s: string, a: number, b: number): number {
  const n = b - a
  if (n === 1) {
    switch (s.charCodeAt(a)) {
      case 99: return T_C // c
      case 103: return T_G // g
      case 104: return T_H // h
      case 100: return T_D // d
      default: return -1
    }
  }
  if (n === 2 && s.charCodeAt(a) === 109 && s.charCodeAt(a + 1) === 115) return T_MS // ms
  return -1
}

/** `<letters>:` at the start of a field: a DogStatsD extension field (`c:`, `e:`, `card:`, ...). */
function isExtensionField (s: string, a: number, b: number): boolean {
  let i = a
  while (i < b) {
    const ch = s.charCodeAt(i)
    if (ch === C_COLON) return i > a
    if (!((ch >= 97 && ch <= 122) || (ch >= 65 && ch <= 90))) return false
    i++
  }
  return false
}

/** Powers of ten that are exact doubles, for the fast decimal path. */
const kPow10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
  1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22]

/**
 * Parses a decimal number in `s[a, b)` without allocating.
 * Accepts `[+-]?(digits[.digits*]|.digits)([eE][+-]?digits)?` and the words inf / infinity (any
 * case, signed) for a precise `not_finite`. Returns NaN for anything else: hex, empty, spaces, "NaN".
 *
 * The fast path (no exponent, at most 15 significant digits) computes mantissa / 10^k. Both are
 * exact doubles, and IEEE division rounds correctly, so the result equals `Number(text)`. Other
 * syntactically valid inputs go to `Number()` on a slice.
 */
function parseNumber (s: string, a: number, b: number): number {
  if (a >= b) return NaN
  let i = a
  let neg = false
  let ch = s.charCodeAt(i)
  if (ch === C_MINUS || ch === C_PLUS) {
    neg = ch === C_MINUS
    i++
    if (i >= b) return NaN
    ch = s.charCodeAt(i)
  }
  if (ch === 105 || ch === 73) { // i / I: inf, infinity
    const word = s.slice(i, b).toLowerCase()
    return word === 'inf' || word === 'infinity' ? (neg ? -Infinity : Infinity) : NaN
  }
  let mant = 0
  let digits = 0
  let sig = 0
  let frac = 0
  let exact = true
  while (i < b) {
    ch = s.charCodeAt(i)
    if (ch < C_0 || ch > C_9) break
    if (sig > 0 || ch !== C_0) sig++
    mant = mant * 10 + (ch - C_0)
    digits++
    i++
  }
  if (i < b && ch === C_DOT) {
    i++
    while (i < b) {
      ch = s.charCodeAt(i)
      if (ch < C_0 || ch > C_9) break
      if (sig > 0 || ch !== C_0) sig++
      mant = mant * 10 + (ch - C_0)
      digits++
      frac++
      i++
    }
  }
  if (digits === 0) return NaN
  if (i < b) {
    if (ch !== C_E_LO && ch !== C_E_UP) return NaN
    i++
    if (i < b) {
      ch = s.charCodeAt(i)
      if (ch === C_MINUS || ch === C_PLUS) i++
    }
    if (i >= b) return NaN
    while (i < b) {
      ch = s.charCodeAt(i)
      if (ch < C_0 || ch > C_9) return NaN
      i++
    }
    exact = false
  }
  if (exact && sig <= 15 && frac <= 22) {
    const v = frac === 0 ? mant : mant / kPow10[frac]
    return neg ? -v : v
  }
  return Number(s.slice(a, b))
}

/**
 * A hash of `s[a, b)` from its length and at most 16 of its characters (four runs of four, at
 * the start, a quarter, the middle and the end): names and tag lists differ in their length or
 * somewhere in those runs. Equal strings always hash equal; a collision only costs a map lookup.
 */
function sampleHash (s: string, a: number, b: number): number {
  const n = b - a
  let h = n
  if (n < 8) {
    for (let i = a; i < b; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  } else {
    // Up to 16 characters the four runs overlap and cover every character.
    const q = a + (n >> 2)
    const m = a + (n >> 1)
    h = Math.imul(h ^ (s.charCodeAt(a) | (s.charCodeAt(a + 1) << 16)), 0x01000193)
    h = Math.imul(h ^ (s.charCodeAt(a + 2) | (s.charCodeAt(a + 3) << 16)), 0x01000193)
    h = Math.imul(h ^ (s.charCodeAt(q) | (s.charCodeAt(q + 1) << 16)), 0x01000193)
    h = Math.imul(h ^ (s.charCodeAt(q + 2) | (s.charCodeAt(q + 3) << 16)), 0x01000193)
    h = Math.imul(h ^ (s.charCodeAt(m) | (s.charCodeAt(m + 1) << 16)), 0x01000193)
    h = Math.imul(h ^ (s.charCodeAt(m + 2) | (s.charCodeAt(m + 3) << 16)), 0x01000193)
    h = Math.imul(h ^ (s.charCodeAt(b - 4) | (s.charCodeAt(b - 3) << 16)), 0x01000193)
    h = Math.imul(h ^ (s.charCodeAt(b - 2) | (s.charCodeAt(b - 1) << 16)), 0x01000193)
  }
  // murmur3's finalizer: multiplication only carries upwards, so fold the high bits down.
  h = Math.imul(h ^ (h >>> 16), 0x85EBCA6B)
  h = Math.imul(h ^ (h >>> 13), 0xC2B2AE35)
  return (h ^ (h >>> 16)) & kTableMask
}

/** The dimensions of the tags field `s[a, b)`: from the table, else the map, else parsed. */
function tagsAt (s: string, a: number, b: number, c: Compiled): TagEntry {
  const h = sampleHash(s, a, b)
  const hit = c.tagTable[h]
  // slice + === (a native compare, the slice dies young) is cheaper than startsWith(x, a) in V8.
  const raw = s.slice(a, b)
  if (hit !== undefined && hit.tags === raw) return hit.entry
  const slot = tagsFor(raw, c)
  if (slot === undefined) return parseTags(detach(raw), c.bareTagValue)
  c.tagTable[h] = slot
  return slot.entry
}

/** The name slot of the metric name `s[a, b)`: from the table, else the map, else made. */
function nameAt (s: string, a: number, b: number, c: Compiled): NameSlot {
  const h = sampleHash(s, a, b)
  const hit = c.nameTable[h]
  const raw = s.slice(a, b)
  if (hit !== undefined && hit.name === raw) return hit
  const slot = nameFor(raw, c)
  if (c.nameCacheSize !== 0) c.nameTable[h] = slot
  return slot
}

/** Looks up (or parses and caches) the dimensions for one tags string; undefined when caching is off. */
function tagsFor (raw: string, c: Compiled): TagSlot | undefined {
  let slot = c.tagCache.get(raw)
  if (slot === undefined) {
    if (c.tagCacheSize === 0) return undefined
    const tags = detach(raw)
    // Dimension names and values are slices of the detached copy, so they pin nothing else.
    slot = { tags, entry: parseTags(tags, c.bareTagValue) }
    // Clearing at the cap bounds memory against a sender that varies tags on every line;
    // identical tag strings are the norm, so the cache refills at once with the live ones.
    // The direct-mapped table holds at most kTableSize more.
    if (c.tagCache.size >= c.tagCacheSize) c.tagCache.clear()
    c.tagCache.set(tags, slot)
  }
  return slot
}

/** Looks up (or detaches, resolves the unit of, and caches) one metric name. */
function nameFor (raw: string, c: Compiled): NameSlot {
  let slot = c.nameCache.get(raw)
  if (slot === undefined) {
    const name = detach(raw)
    slot = { name, unit: c.unitMap === undefined ? undefined : c.unitMap.get(name) }
    if (c.nameCacheSize === 0) return slot
    if (c.nameCache.size >= c.nameCacheSize) c.nameCache.clear()
    c.nameCache.set(name, slot)
  }
  return slot
}

/**
 * A copy of `t` that shares no memory with the string it was sliced from. V8 represents a slice
 * of 13 or more characters as a view that keeps the whole parent alive: a name kept by the
 * receiver's series registry, or a key in the caches here, would otherwise pin its entire
 * datagram (up to 64 KB) for as long as the series lives. Appending a character builds a
 * cons string; slicing that flattens it into a fresh buffer of the name's own size.
 */
function detach (t: string): string {
  return (t + ' ').slice(0, -1)
}

function parseTags (tags: string, bareTagValue: string | false): TagEntry {
  const dims: Record<string, string> = {}
  let n = 0
  let a = 0
  const len = tags.length
  while (a <= len) {
    let b = find(tags, C_COMMA, a, len)
    if (b < 0) b = len
    if (b > a) { // empty entries (",," or a trailing ",") are skipped
      const colon = find(tags, C_COLON, a, b)
      let key: string
      let value: string
      if (colon < 0) {
        if (bareTagValue === false) {
          return `tag ${quote(tags.slice(a, b))} has no value: send it as "key:value"`
        }
        key = tags.slice(a, b)
        value = bareTagValue
      } else {
        key = tags.slice(a, colon)
        value = tags.slice(colon + 1, b)
      }
      if (Object.hasOwn(dims, key)) {
        return `tag key ${quote(key)} appears twice in ${quote(tags)}: a dimension takes one value, send the key once`
      }
      setDim(dims, key, value)
      n++
    }
    if (b === len) break
    a = b + 1
  }
  if (n === 0) return kNoDims
  return Object.freeze(dims)
}

/** Tag strings made only of separators map to "no dimensions"; the sentinel is never passed on. */
const kNoDims: Readonly<Record<string, string>> = Object.freeze({})

/** Sets a dimension as an own property even for the key `__proto__` (plain assignment would drop it). */
function setDim (dims: Record<string, string>, key: string, value: string): void {
  if (key === '__proto__') {
    Object.defineProperty(dims, key, { value, enumerable: true, writable: true, configurable: true })
  } else {
    dims[key] = value
  }
}

function reject (receiver: SampleReceiver, reason: RejectReason, lineNo: number, what: string,
  s: string, start: number, end: number): void {
  receiver.reject(reason, `statsd line ${lineNo}: ${what} (line: ${echo(s, start, end)})`)
}

/** Quotes at most {@link kEchoMax} characters of `s[a, b)`, escaping control characters. */
function echo (s: string, a: number, b: number): string {
  return quoteText(s, kEchoMax, a, b)
}

function quote (t: string): string {
  return quoteText(t, kEchoMax)
}

/**
 * The next "|" in `[a, end)`, or `end`. Native `indexOf` (memchr) is several times faster than a
 * char loop over a long tags field. Unbounded, it may scan past the line end, but only to the
 * next "|" in the datagram, and only from a line's last field: the text in between is lines
 * without a "|", which only the line-start scan reads besides, so the total stays linear.
 */
function nextPipe (s: string, a: number, end: number): number {
  const i = s.indexOf('|', a)
  return i < 0 || i > end ? end : i
}

/**
 * `s.indexOf(ch)` bounded to `[a, b)`; -1 when absent. Native `indexOf` would scan past the line
 * end, and a datagram of lines that all lack the character would then cost O(lines x length).
 */
function find (s: string, ch: number, a: number, b: number): number {
  for (let i = a; i < b; i++) if (s.charCodeAt(i) === ch) return i
  return -1
}
