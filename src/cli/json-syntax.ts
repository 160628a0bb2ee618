/**
 * Locates a JSON syntax error without quoting the text: for messages about files that may hold
 * secrets (`--config`), where the parser's own message shows a fragment of the file.
 */

/**
 * Where JSON text first goes wrong: `line` and `column` (1-based) of the offending character,
 * or of the end when the text stops short; undefined when it is valid JSON.
 */
export function jsonSyntaxErrorAt (text: string): { line: number, column: number, atEnd: boolean } | undefined {
  let i = 0
  const stop = (): never => { throw new RangeError(String(i)) }
  const ws = (): void => { while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++ }
  const literal = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y
  const str = (): void => {
    i++
    while (i < text.length) {
      const c = text.charCodeAt(i)
      if (c === 0x22) { i++; return }
      if (c < 0x20) stop()
      if (c === 0x5c) {
        i++
        if (text[i] === 'u') { if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) stop(); i += 4 } else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) stop()
      }
      i++
    }
    stop()
  }
  const value = (): void => {
    ws()
    const c = text[i]
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']'
      i++; ws()
      if (text[i] === close) { i++; return }
      for (;;) {
        if (c === '{') { ws(); if (text[i] !== '"') stop(); str(); ws(); if (text[i] !== ':') stop(); i++ }
        value(); ws()
        if (text[i] === ',') { i++; continue }
        if (text[i] === close) { i++; return }
        stop()
      }
    }
    if (c === '"') { str(); return }
    literal.lastIndex = i
    const m = literal.exec(text)
    if (m === null) stop()
    i += m![0].length
  }
  try {
    value(); ws()
    if (i < text.length) stop()
    return undefined
  } catch (err) {
    if (!(err instanceof RangeError)) throw err
    const at = Math.min(i, text.length)
    const before = text.slice(0, at)
    const line = before.split('\n').length
    return { line, column: at - (before.lastIndexOf('\n') + 1) + 1, atEnd: at >= text.length }
  }
}
