import { describe, expect, it } from 'vitest'
import { loadUnixDgram } from '../../../src/listeners/statsd.js'

/** The errors Node's require throws in each case (messages as Node 22 words them). */
function notFound (id: string): Error {
  return Object.assign(new Error(`Cannot find module '${id}'\nRequire stack:\n- /app/dist/listeners/statsd.js`), { code: 'MODULE_NOT_FOUND' })
}
const kAbiMismatch = Object.assign(new Error("The module '/app/node_modules/unix-dgram/build/Release/unix_dgram.node'\n" +
  'was compiled against a different Node.js version using\nNODE_MODULE_VERSION 115. This version of Node.js requires\n' +
  'NODE_MODULE_VERSION 127. Please try re-compiling or re-installing\nthe module (for instance, using `npm rebuild` or `npm install`).'), { code: 'ERR_DLOPEN_FAILED' })

describe('loadUnixDgram (--statsd-socket)', () => {
  it('returns the module when it loads', () => {
    const mod = { createSocket: () => { throw new Error('unused') } }
    const r = loadUnixDgram(() => mod)
    expect(r).toEqual({ ok: true, mod })
  })

  it('not installed: says to install it', () => {
    const r = loadUnixDgram(() => { throw notFound('unix-dgram') })
    expect(r).toEqual({ ok: false, message: '--statsd-socket needs the optional package unix-dgram (npm install unix-dgram): Node has no Unix datagram sockets of its own' })
  })

  it('installed for another Node: says so, on one line, with the reason and the rebuild command', () => {
    const r = loadUnixDgram(() => { throw kAbiMismatch })
    expect(r.ok).toBe(false)
    const message = (r as { message: string }).message
    expect(message).not.toContain('\n')
    expect(message).toContain(`installed but does not load in Node ${process.version}`)
    expect(message).toContain('NODE_MODULE_VERSION 115. This version of Node.js requires NODE_MODULE_VERSION 127.')
    expect(message).toMatch(/: rebuild it for this Node with npm rebuild unix-dgram$/)
  })

  it('installed but its own dependency missing, or never built: not taken for "not installed"', () => {
    const r1 = loadUnixDgram(() => { throw notFound('bindings') })
    expect((r1 as { message: string }).message).toContain("installed but does not load in Node")
    expect((r1 as { message: string }).message).toContain("Cannot find module 'bindings'")
    const r2 = loadUnixDgram(() => { throw new Error('Could not locate the bindings file. Tried:\n → /app/node_modules/unix-dgram/build/unix_dgram.node\n' + ' → /x'.repeat(200)) })
    const m2 = (r2 as { message: string }).message
    expect(m2).toContain('Could not locate the bindings file.')
    expect(m2.length).toBeLessThan(700)   // the long list of tried paths is cut
    expect(m2).toMatch(/npm rebuild unix-dgram$/)
  })
})
