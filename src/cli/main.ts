#!/usr/bin/env node
/**
 * The `minutely` command: `sidecar` runs the engine beside any model server; `pipeline` is a
 * SageMaker-style inference pipeline proxy in front of model containers; `demo` runs the
 * sidecar with a built-in traffic generator and an in-memory sink (no AWS account).
 * `--version` (`-v`) prints the version; `--help` the usage. Exit codes: 0 ok, 1 runtime
 * failure, 2 bad usage or configuration (a bare `minutely` too).
 */
import { MetricsError } from '../errors.js'
import { helpText, parseCommandLine, resolveSettings, secretValues, unknownVariables } from './config.js'
import { authToken, kSidecarSettings, startSidecar, type Sidecar } from './sidecar.js'
import { runDemo } from './demo.js'
import { kPipelineSettings, runPipelineCli, splitCommandGroups } from './pipeline.js'
import { createLogger, logFormatOf, logLevelOf, logProcessWarnings, secretScrubber } from './logger.js'
import { kIdentityEnv } from '../sagemaker/env.js'
import { kVersion } from '../status/version.js'
import { modelServerEndLine } from './container-logs.js'

const kUsage = `usage: minutely <command> [options]

commands:
  sidecar   aggregate samples (HTTP JSON, StatsD/DogStatsD, EMF) into 1-minute statistics and publish them;
            optionally run the model servers (-- cmd args) and ship their logs
  pipeline  serve /invocations and /ping in front of pipeline containers, publishing SageMaker's invocation metrics and shipping their logs
  demo      the sidecar fed by a built-in traffic generator, printing each sealed minute (no AWS needed)

minutely <command> --help lists the options of a command; minutely --version prints the version.`

/**
 * Every MINUTELY_* variable minutely reads: a command warns about any other (a typo), but not
 * about another command's variables, which a shared environment may well hold.
 */
const kKnownVariables: readonly string[] = [
  ...kSidecarSettings.map(s => s.env),
  ...kPipelineSettings.map(s => s.env),
  ...Object.values(kIdentityEnv).flat(),
]

function printVersion (): void {
  process.stdout.write(`${kVersion !== '' ? kVersion : 'unknown'}\n`)
}

/** The values given to secret flags (`--auth-token x`, `--auth-token=x`), found before any parsing. */
function secretArgs (args: readonly string[]): string[] {
  const flags = [...kSidecarSettings, ...kPipelineSettings].filter(s => s.secret === true).map(s => `--${s.flag}`)
  const out: string[] = []
  for (let i = 0; i < args.length; i++) {
    for (const f of flags) {
      if (args[i] === f && i + 1 < args.length) out.push(args[i + 1])
      else if (args[i].startsWith(f + '=')) out.push(args[i].slice(f.length + 1))
    }
  }
  return out
}

/**
 * Every secret known so far (the environment's, the command line's, then the token read from a
 * file): scrubbed from what is printed, the log and the last message alike.
 */
const scrubber = secretScrubber(secretArgs(process.argv.slice(2)))

function fail (message: string, code = 2): never {
  process.stderr.write(`minutely: ${scrubber.scrub(message)}\n`)
  process.exit(code)
}

/**
 * Seals and publishes on SIGTERM/SIGINT, then exits; a second signal exits at once. Installed
 * before start-up: a signal that arrives while the sidecar starts is honoured once it is up
 * (`started`), instead of killing it half-started. A model server that ends for good does the
 * same, and the process then exits with that server's status (as a container entrypoint).
 */
function onShutdown (log: (s: string) => void): { started: (sidecar: Sidecar, after?: () => void) => void } {
  let sidecar: Sidecar | undefined
  let after: (() => void) | undefined
  let pending: string | undefined
  let stopping = false
  const stop = (signal: string, status?: number): void => {
    if (stopping) { log(`${signal} again: exiting without waiting`); process.exit(130) }
    if (sidecar === undefined) { pending = signal; return } // still starting: stopped as soon as it is up
    stopping = true
    // A model server's failing status wins over minutely's own (as a container entrypoint's would).
    const exit = (own: number): never => process.exit(status !== undefined && status !== 0 ? status : own)
    after?.()
    const sc = sidecar
    log(`${signal}: sealing and publishing everything (deadline ${String(sc.settings.closeTimeoutMs)} ms)`)
    sc.close().then(r => {
      const st = sc.aggregator.stats()
      // Unsent but spooled is not lost: the next start with the same --spool-dir sends it.
      const lost = r.datumsPending > 0 && r.spooledBatches < r.unsent.length
      log(`closed: ${st.samplesAccepted} samples accepted, ${st.samplesRejected} rejected, ${st.datumsPublished} datums published in ${st.requestsSucceeded} requests` +
        (r.datumsPending > 0 ? (lost ? `; ${r.datumsPending} datums could NOT be published within --close-timeout-ms (${String(sc.settings.closeTimeoutMs)} ms)${sc.settings.spoolDir === undefined ? ': raise it, or pass --spool-dir to keep them for the next start' : ''}` : `; ${r.datumsPending} datums kept in the spool for the next start`) : ''))
      exit(lost ? 1 : 0)
    }, (err: unknown) => { log(`close failed: ${String(err)}`); exit(1) })
  }
  process.on('SIGTERM', () => { stop('SIGTERM') })
  process.on('SIGINT', () => { stop('SIGINT') })
  return {
    started (sc, then) {
      sidecar = sc
      after = then
      if (pending !== undefined) stop(pending)
      void sc.logs?.ended.then(e => {
        if (stopping) return
        log(modelServerEndLine(e))
        stop(`model server ${e.name} ended`, e.exitCode)
      })
    },
  }
}

async function main (argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  if (command === undefined) fail(`a command is needed\n${kUsage}`)
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(kUsage + '\n')
    return
  }
  if (command === '--version' || command === '-v') { printVersion(); return }
  if (command === 'pipeline') {
    const log = (s: string): void => { process.stderr.write(`${new Date().toISOString()} ${scrubber.scrub(s)}\n`) }
    logProcessWarnings({ warn: (_, message) => { log(`warning: ${message}`) } })   // one line each, as the pipeline's own
    try {
      await runPipelineCli(rest, log, kKnownVariables)
    } catch (err) {
      if (err instanceof MetricsError) fail(err.message)
      throw err
    }
    return
  }
  if (command !== 'sidecar' && command !== 'demo') fail(`unknown command ${JSON.stringify(command)}\n${kUsage}`)
  const { options: args, commands } = splitCommandGroups(rest)
  let flags
  try {
    flags = parseCommandLine(command, kSidecarSettings, args)
  } catch (err) {
    fail((err as Error).message)
  }
  if (flags.version === true) { printVersion(); return }
  if (flags.help === true) {
    const summary = command === 'demo'
      ? 'Runs the sidecar with a traffic generator (endpoints, variants, pipeline containers, some 4xx/5xx) and an in-memory sink, and prints each sealed minute.'
      : 'Aggregates samples (HTTP POST /v1/samples, StatsD/DogStatsD over UDP, EMF over TCP/UDP) into 1-minute statistics and publishes them. ' +
        'After --, one command per model server to run: their stdout/stderr lines are shipped to CloudWatch Logs (or --log-sink).'
    process.stdout.write(helpText(command, summary, kSidecarSettings) + '\n')
    return
  }
  let log = (s: string): void => { process.stderr.write(`${new Date().toISOString()} ${scrubber.scrub(s)}\n`) }
  try {
    const settings = resolveSettings(kSidecarSettings, flags, process.env)
    // The bearer token, wherever it was given (flag, variable, --config, --auth-token-file), is
    // read once, here, so that the log knows it before anything is logged.
    const token = authToken(settings)
    if (token !== undefined) settings.authToken = token
    // Structured logs (JSON lines, or readable on a terminal); secrets never printed.
    const logger = createLogger({
      format: logFormatOf(settings.logFormat),
      level: logLevelOf(settings.logLevel),
      scrubber,
      secrets: secretValues(kSidecarSettings, settings),
    })
    log = logger.line
    // Process warnings (the AWS SDK's NodeVersionSupportWarning on Node 20, Node's own) become
    // log lines too, never Node's multi-line text in the JSON stream.
    logProcessWarnings(logger)
    for (const w of unknownVariables(command, kSidecarSettings, process.env, kKnownVariables)) log(`warning: ${w}`)
    // Signals first (one during start-up is honoured once started), then the ready line: a
    // supervisor that signals on "ready" must get a clean shutdown.
    const shutdown = onShutdown(log)
    if (command === 'demo') {
      if (flags.sink === undefined && process.env.MINUTELY_SINK === undefined) settings.sink = 'memory'
      const { sidecar, stop } = await runDemo(settings, { out: s => { process.stdout.write(s) }, log }, undefined, commands)
      shutdown.started(sidecar, stop)
      return
    }
    const sidecar = await startSidecar(settings, { log, commands })
    log(`minutely sidecar: HTTP ingest on http://${sidecar.http.host}:${sidecar.http.port}/v1/samples · sink ${String(settings.sink)} · namespace ${String(settings.namespace)}`)
    shutdown.started(sidecar)
  } catch (err) {
    if (err instanceof MetricsError) fail(err.message)
    throw err
  }
}

main(process.argv.slice(2)).catch((err: unknown) => { fail(String((err as Error)?.stack ?? err), 1) })
