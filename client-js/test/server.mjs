// Starts the real tandem binary on a free loopback port for the JS tests, and mints
// tokens with its own `tandem token` command.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

const here = dirname(fileURLToPath(import.meta.url))
export const BIN = process.env.TANDEM_BIN ?? join(here, '..', '..', 'target', 'debug', 'tandem')
const SECRET = 'js-t3st-0nly-4b6d8f0a2c4e6b8d0f1a3c5e'

export class Server {
  /** Starts a server on `dataDir` (a new temporary one by default), with `env` added. */
  static async start (dataDir = mkdtempSync(join(tmpdir(), 'tandem-js-')), env = {}) {
    const s = new Server()
    s.dataDir = dataDir
    s.proc = spawn(BIN, ['serve'], {
      env: { ...process.env, TANDEM_LISTEN: '127.0.0.1:0', TANDEM_DATA_DIR: dataDir, TANDEM_JWT_SECRET: SECRET, TANDEM_LOG_FORMAT: 'json', RUST_LOG: 'info', ...env },
      stdio: ['ignore', 'pipe', 'inherit']
    })
    s.exited = new Promise((resolve) => s.proc.on('exit', (code, signal) => resolve({ code, signal })))
    s.addr = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('server did not start within 30 s')), 30_000)
      createInterface({ input: s.proc.stdout }).on('line', (line) => {
        if (line.includes('"listening"')) { clearTimeout(timer); resolve(JSON.parse(line).fields.addr) }
      })
      s.proc.on('exit', () => reject(new Error('server exited during start')))
    })
    s.url = `ws://${s.addr}/ws`
    return s
  }

  token (...grants) {
    const args = ['token', '--sub', 'js', '--ttl', '10m', ...grants.flatMap((g) => ['--room', g])]
    return execFileSync(BIN, args, { env: { ...process.env, TANDEM_JWT_SECRET: SECRET, TANDEM_DATA_DIR: this.dataDir } }).toString().trim()
  }

  async stop (signal = 'SIGTERM') {
    this.proc.kill(signal)
    return this.exited
  }

  cleanup () { rmSync(this.dataDir, { recursive: true, force: true }) }
}

/** Resolves once `cond()` holds, polling every 10 ms; rejects after `ms`. */
export async function until (cond, ms = 10_000, what = 'condition') {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
