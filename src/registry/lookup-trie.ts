/**
 * The cache in front of the series registry: it lets `record(name, v, dims, options)` find
 * its series without building the series key (a string join and a hash cost ~380 ns; this
 * costs a few pointer compares). A path is the metric name, then the scope (the `unit` and
 * `namespace` options as given), then each dimension key and value in the order the dims
 * object lists them; its end holds what the registry resolved for it. Several paths (key
 * orders, `{ unit: 'None' }` beside no unit) may lead to one value.
 *
 * Six caches sit on the paths. Each carries its own validity, and none shares a counter
 * with another (one generation number validating two memos once let a stale answer through):
 *
 * - The trie itself: a path holds a value until {@link LookupTrie.forget} unhooks every path to
 *   that value. A node with longer paths through it stays and only loses its value; a node
 *   left with neither is taken out of its parent's map, and so on up.
 * - The call memo: the scope node the last call reached, with its metric, unit and namespace
 *   (one call site repeating itself compares three pointers); and the metric memo: the last
 *   metric name looked up and its node. Each cleared when its node is taken out.
 * - The scope memo of a metric: the last `(unit, namespace)` taken and the node it led to.
 *   Cleared when that node is taken out.
 * - The step memo of a node: the last dimension key taken and the map of its values, and the
 *   last value taken and its child. Only the node that holds a map or a child memoizes it,
 *   and taking either out clears that memo.
 * - The object memo of a scope node: a dims object seen twice in a row, its keys and values
 *   in order, and the node they led to. It keeps the node, not the value: the value is read
 *   from the node on every hit, and a node taken out holds none, so a hit that finds nothing
 *   falls through to the walk. It can be late, never wrong.
 */

/** One node: where a path of dimension keys and values leads. */
class TrieNode<V> {
  value: V | undefined = undefined
  /** Dimension key → value → child. */
  next: Map<string, Map<unknown, TrieNode<V>>> | undefined = undefined
  /** Step memo: key `k` led to map `m`; under it, value `v` led to child `n`. */
  k: string | undefined = undefined
  m: Map<unknown, TrieNode<V>> | undefined = undefined
  v: unknown = undefined
  n: TrieNode<V> | undefined = undefined
  /** Object memo (scope nodes): the dims object of the last call, and one seen twice in a row with its keys and values. */
  seen: object | undefined = undefined
  memo: object | undefined = undefined
  memoKv: unknown[] | undefined = undefined
  memoNode: TrieNode<V> | undefined = undefined
}

/** The first level: a metric name, and the scopes recorded under it. */
class MetricNode<V> {
  /** The scope of calls without options (no unit, no namespace). */
  plain: TrieNode<V> | undefined = undefined
  /** unit → namespace → scope node, for calls with options. */
  readonly scopes = new Map<string | undefined, Map<string | undefined, TrieNode<V>>>()
  /** Scope memo: the last options scope taken and its node. */
  unit: string | undefined = undefined
  namespace: string | undefined = undefined
  last: TrieNode<V> | undefined = undefined
}

/** One step of a path: from `node`, key `k` led to map `m`, where value `v` led to `child`. */
interface TrieStep<V> { node: TrieNode<V>, k: string, m: Map<unknown, TrieNode<V>>, v: unknown, child: TrieNode<V> }

/** How to take one path out again. */
interface TriePath<V> {
  metric: string
  /** The scope as the call gave it. */
  unit: string | undefined
  namespace: string | undefined
  scope: TrieNode<V>
  steps: Array<TrieStep<V>>
}

type Dims = Readonly<Record<string, unknown>>

/** The lookup cache: (metric, unit, namespace, dims object) → the value the registry resolved. */
export class LookupTrie<V> {
  readonly #metrics = new Map<string, MetricNode<V>>()
  /**
   * Metric memo: the last metric name looked up and its node. Metric names are usually
   * literals, so `===` is a pointer compare where the Map lookup costs ~7 ns. Cleared when
   * that node is taken out.
   */
  #lastMetric: string | undefined = undefined
  #lastNode: MetricNode<V> | undefined = undefined
  /** Call memo: the scope node of the last call (its metric, unit and namespace), for one call site's repeats. */
  #callMetric: string | undefined = undefined
  #callUnit: string | undefined = undefined
  #callNamespace: string | undefined = undefined
  #callScope: TrieNode<V> | undefined = undefined
  readonly #paths = new Map<V, Array<TriePath<V>>>()

  /** Values reachable through at least one path. */
  get size (): number { return this.#paths.size }

  /** The value at the end of this call's path, or undefined when there is none. Hashes nothing new. */
  lookup (metric: string, unit: string | undefined, namespace: string | undefined, dims: Dims | undefined): V | undefined {
    let start = this.#callScope
    if (start === undefined || metric !== this.#callMetric || unit !== this.#callUnit || namespace !== this.#callNamespace) {
      start = this.#scopeOf(metric, unit, namespace)
      if (start === undefined) return undefined
      this.#callMetric = metric; this.#callUnit = unit; this.#callNamespace = namespace; this.#callScope = start
    }
    if (dims === undefined || dims === null) return start.value
    // The same object as last time, with the same keys and values in the same order: no
    // hashing at all (a reused dims object, the common case in a request handler).
    if (start.memo === dims) {
      const kv = start.memoKv!
      let i = 0
      for (const k in dims) {
        if (k !== kv[i] || dims[k] !== kv[i + 1]) { i = -1; break }
        i += 2
      }
      if (i === kv.length) {
        const v = start.memoNode!.value
        if (v !== undefined) return v
      }
    }
    return this.#walk(start, dims)
  }

  /** The scope node of (metric, unit, namespace), through the metric and scope memos. */
  #scopeOf (metric: string, unit: string | undefined, namespace: string | undefined): TrieNode<V> | undefined {
    let mn = this.#lastNode
    if (metric !== this.#lastMetric || mn === undefined) {
      mn = this.#metrics.get(metric)
      if (mn === undefined) return undefined
      this.#lastMetric = metric; this.#lastNode = mn
    }
    if (unit === undefined && namespace === undefined) return mn.plain
    // Option strings are usually literals: `===` on them is a pointer compare.
    if (mn.last !== undefined && mn.unit === unit && mn.namespace === namespace) return mn.last
    const start = mn.scopes.get(unit)?.get(namespace)
    if (start !== undefined) { mn.unit = unit; mn.namespace = namespace; mn.last = start }
    return start
  }

  /** The walk from a scope node along each key and value, through the step memos. */
  #walk (start: TrieNode<V>, dims: Dims): V | undefined {
    let node = start
    for (const k in dims) {
      let m: Map<unknown, TrieNode<V>> | undefined
      if (node.k === k) {
        m = node.m!
      } else {
        m = node.next?.get(k)
        if (m === undefined) return undefined
        node.k = k; node.m = m; node.n = undefined
      }
      const v = dims[k]
      let n: TrieNode<V> | undefined
      if (node.n !== undefined && node.v === v) {
        n = node.n
      } else {
        n = m.get(v)
        if (n === undefined) return undefined
        node.v = v; node.n = n
      }
      node = n
    }
    // Seen twice in a row: remember it (never for fresh objects, which would only churn). A
    // reused object that was mutated, or whose node lost its value, is remembered anew; the
    // key/value array is reused, so an object mutated between calls allocates nothing.
    if (start.seen === dims && node.value !== undefined) {
      const kv = start.memoKv ?? []
      kv.length = 0
      for (const k in dims) kv.push(k, dims[k])
      start.memo = dims; start.memoKv = kv; start.memoNode = node
    }
    start.seen = dims
    return node.value
  }

  /** Makes this call's path lead to `value` (the registry resolved it). */
  insert (metric: string, unit: string | undefined, namespace: string | undefined, dims: Dims | undefined, value: V): void {
    let mn = this.#metrics.get(metric)
    if (mn === undefined) { mn = new MetricNode(); this.#metrics.set(metric, mn) }
    let scope: TrieNode<V>
    if (unit === undefined && namespace === undefined) {
      scope = mn.plain ??= new TrieNode()
    } else {
      let byNs = mn.scopes.get(unit)
      if (byNs === undefined) { byNs = new Map(); mn.scopes.set(unit, byNs) }
      let n = byNs.get(namespace)
      if (n === undefined) { n = new TrieNode(); byNs.set(namespace, n) }
      scope = n
    }
    let node = scope
    const steps: Array<TrieStep<V>> = []
    if (dims !== undefined && dims !== null) {
      for (const k in dims) {
        node.next ??= new Map()
        let m = node.next.get(k)
        if (m === undefined) { m = new Map(); node.next.set(k, m) }
        const v = dims[k]
        let child = m.get(v)
        if (child === undefined) { child = new TrieNode(); m.set(v, child) }
        steps.push({ node, k, m, v, child })
        node = child
      }
    }
    if (node.value === value) return
    node.value = value
    let paths = this.#paths.get(value)
    if (paths === undefined) { paths = []; this.#paths.set(value, paths) }
    paths.push({ metric, unit, namespace, scope, steps })
  }

  /**
   * Unhooks every path to `value` (its series was evicted), so that no lookup returns it
   * again, and takes out every node left with neither a value nor a path through it, with
   * the memos that lead to it: churn in dimension values does not grow the trie.
   */
  forget (value: V): void {
    const paths = this.#paths.get(value)
    if (paths === undefined) return
    this.#paths.delete(value)
    for (const p of paths) {
      const end = p.steps.length === 0 ? p.scope : p.steps[p.steps.length - 1].child
      if (end.value !== value) continue   // the path leads elsewhere now: not this value's to take out
      end.value = undefined
      let i = p.steps.length - 1
      for (; i >= 0; i--) {
        const { node, k, m, v, child } = p.steps[i]
        if (inUse(child)) break
        if (m.get(v) === child) m.delete(v)
        if (node.n === child) { node.n = undefined; node.v = undefined }
        if (m.size === 0 && node.next?.get(k) === m) {
          node.next.delete(k)
          if (node.m === m) { node.k = undefined; node.m = undefined; node.n = undefined }
          if (node.next.size === 0) node.next = undefined
        }
      }
      if (i < 0 && !inUse(p.scope)) this.#dropScope(p)
    }
  }

  /** Takes an empty scope node out of its metric, with the scope memo that leads to it. */
  #dropScope (p: TriePath<V>): void {
    const mn = this.#metrics.get(p.metric)
    if (mn === undefined) return
    if (mn.plain === p.scope) mn.plain = undefined
    const byNs = mn.scopes.get(p.unit)
    if (byNs !== undefined && byNs.get(p.namespace) === p.scope) {
      byNs.delete(p.namespace)
      if (byNs.size === 0) mn.scopes.delete(p.unit)
    }
    if (mn.last === p.scope) { mn.last = undefined; mn.unit = undefined; mn.namespace = undefined }
    if (this.#callScope === p.scope) { this.#callScope = undefined; this.#callMetric = undefined; this.#callUnit = undefined; this.#callNamespace = undefined }
    if (mn.plain === undefined && mn.scopes.size === 0) {
      this.#metrics.delete(p.metric)
      if (this.#lastNode === mn) { this.#lastMetric = undefined; this.#lastNode = undefined }
    }
  }
}

/** A node holds a value or leads somewhere. */
function inUse (n: TrieNode<unknown>): boolean {
  return n.value !== undefined || (n.next !== undefined && n.next.size > 0)
}
