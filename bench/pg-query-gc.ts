import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import postgres from 'postgres';
import { loadAverage } from './proc-stats.js';

/**
 * What a client library costs the write path's process: CPU and the young generation
 * (BENCHMARKS.md, "PostgreSQL, seventh pass"; docs/postgres.md, "Client library"). Each run is a
 * child process under --trace-gc-nvp running `callers` loops for `seconds`, in one of two shapes:
 *   sequential  each loop awaits two statements one after the other;
 *   group       each loop runs the write path's transaction shape on one connection, pipelined:
 *               BEGIN, two INSERT ... unnest statements of 8 rows, COMMIT, all sent at once;
 * with postgres.js 3.4 (a reserved connection) or node-postgres 8 (a client in pipeline mode).
 * The parent reads V8's own lines: bytes surviving each young collection (new_space_survived)
 * and promoted by it, and the share of wall time in GC pauses.
 * Usage: npm run build && node dist/bench/pg-query-gc.js [seconds] [--rounds N] [--callers N]
 * (LEDGER_BENCH_DATABASE_URL: default postgres://postgres:postgres@127.0.0.1:5432/postgres)
 */
const URL_ = process.env.LEDGER_BENCH_DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
const KINDS = ['postgres/sequential', 'pg/sequential', 'postgres/group', 'pg/group'] as const;
type Kind = (typeof KINDS)[number];
const GROUP_ROWS = 8;

interface ChildResult {
  /** Statements (sequential) or transactions (group). */
  statements: number;
  elapsedMs: number;
  cpuMs: number;
}

const TABLE = 'ledgerctl_bench_query_gc';
const INSERT = `INSERT INTO ${TABLE} SELECT * FROM unnest($1::text[], $2::int8[])`;

/** One loop turn: two statements, or one pipelined transaction; how many it counts. */
type Turn = (caller: number, turn: number) => Promise<number>;

async function child(kind: Kind, seconds: number, callers: number): Promise<void> {
  const [library, shape] = kind.split('/') as ['postgres' | 'pg', 'sequential' | 'group'];
  const rows = (caller: number, turn: number) => {
    const ids = Array.from({ length: GROUP_ROWS }, (_, i) => `${caller}-${turn}-${i}`);
    return [ids, ids.map((_, i) => String(i))] as const;
  };
  let run: Turn;
  let end: () => Promise<void>;
  if (library === 'pg') {
    const pool = new pg.Pool({ connectionString: URL_, max: callers, pipeline: true } as pg.PoolConfig);
    run =
      shape === 'sequential'
        ? async (n) => {
            await pool.query({ name: 'a', text: 'SELECT $1::int AS a', values: [n] });
            await pool.query({ name: 'b', text: 'SELECT $1::int AS b', values: [n] });
            return 2;
          }
        : async (n, t) => {
            const client = await pool.connect();
            try {
              const [ids, values] = rows(n, t);
              await Promise.all([
                client.query('BEGIN'),
                client.query({ name: 'i', text: INSERT, values: [ids, values] }),
                client.query({ name: 'i', text: INSERT, values: [ids.map((id) => `${id}b`), values] }),
                client.query('COMMIT'),
              ]);
            } finally {
              client.release();
            }
            return 1;
          };
    end = () => pool.end();
  } else {
    const sql = postgres(URL_, { max: callers, prepare: true, onnotice: () => {}, idle_timeout: 0 });
    run =
      shape === 'sequential'
        ? async (n) => {
            await sql`SELECT ${n}::int AS a`;
            await sql`SELECT ${n}::int AS b`;
            return 2;
          }
        : async (n, t) => {
            const tx = await sql.reserve();
            try {
              const [ids, values] = rows(n, t);
              await Promise.all([
                tx.unsafe('BEGIN'),
                tx.unsafe(INSERT, [ids as string[], values as string[]], { prepare: true }),
                tx.unsafe(INSERT, [ids.map((id) => `${id}b`), values as string[]], { prepare: true }),
                tx.unsafe('COMMIT'),
              ]);
            } finally {
              tx.release();
            }
            return 1;
          };
    end = () => sql.end();
  }
  // Every connection opened (and authenticated) before the clock starts.
  await Promise.all(Array.from({ length: callers }, (_, n) => run(n, -1)));
  const untilMs = performance.now() + seconds * 1000;
  let statements = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async (_, n) => {
      for (let turn = 0; performance.now() < untilMs; turn++) statements += await run(n, turn);
    }),
  );
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await end();
  const result: ChildResult = { statements, elapsedMs, cpuMs: (cpu.user + cpu.system) / 1000 };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

interface RunSummary {
  kind: Kind;
  statementsPerSec: number;
  cpuUsPerStatement: number;
  scavenges: number;
  survivedKbPerScavenge: number;
  promotedKbPerScavenge: number;
  gcPausePct: number;
}

function nvp(line: string, key: string): number {
  const m = new RegExp(`\\b${key}=([0-9.]+)`).exec(line);
  return m === null ? 0 : Number(m[1]);
}

function run(kind: Kind, seconds: number, callers: number): Promise<RunSummary> {
  const script = fileURLToPath(import.meta.url);
  const proc = spawn(
    process.execPath,
    ['--trace-gc-nvp', script, '--child', kind, String(seconds), '--callers', String(callers)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  proc.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => {
      const resultLine = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || resultLine === undefined) return reject(new Error(`${kind}: child exited ${code}`));
      const r = JSON.parse(resultLine.slice(7)) as ChildResult;
      const lines = out.split('\n');
      const scavenges = lines.filter((l) => / gc=s /.test(l));
      const pauseMs = lines.filter((l) => / gc=/.test(l)).reduce((sum, l) => sum + nvp(l, 'pause'), 0);
      const avg = (key: string) =>
        scavenges.length === 0 ? 0 : scavenges.reduce((s, l) => s + nvp(l, key), 0) / scavenges.length / 1024;
      resolve({
        kind,
        statementsPerSec: (r.statements * 1000) / r.elapsedMs,
        cpuUsPerStatement: (r.cpuMs * 1000) / r.statements,
        scavenges: scavenges.length,
        survivedKbPerScavenge: avg('new_space_survived'),
        promotedKbPerScavenge: avg('promoted'),
        // Pauses of the whole child (connecting and ending too) over the measured loop's time.
        gcPausePct: (100 * pauseMs) / r.elapsedMs,
      });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      child: { type: 'string' },
      rounds: { type: 'string', default: '3' },
      callers: { type: 'string', default: '2' },
    },
  });
  const seconds = Number(positionals[0] ?? '3');
  const callers = Number(values.callers);
  if (values.child !== undefined) return child(values.child as Kind, seconds, callers);
  const rounds = Number(values.rounds);
  const setup = postgres(URL_, { max: 1, onnotice: () => {} });
  await setup.unsafe(`DROP TABLE IF EXISTS ${TABLE}`);
  await setup.unsafe(`CREATE UNLOGGED TABLE ${TABLE} (id text, n int8)`);
  const all: RunSummary[] = [];
  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round} of ${rounds}, load average ${loadAverage()}`);
    for (const kind of KINDS) {
      const r = await run(kind, seconds, callers);
      all.push(r);
      console.log(
        `  ${kind.padEnd(18)} ${r.statementsPerSec.toFixed(0).padStart(6)} per s, ${r.cpuUsPerStatement.toFixed(1)} us CPU each (statement or transaction); ` +
          `${r.scavenges} young GCs, survived ${r.survivedKbPerScavenge.toFixed(0)} KB and promoted ${r.promotedKbPerScavenge.toFixed(0)} KB each; ` +
          `GC pauses ${r.gcPausePct.toFixed(1)}% of the time`,
      );
    }
  }
  await setup.unsafe(`DROP TABLE ${TABLE}`);
  await setup.end();
  console.log(`medians of ${rounds} rounds, ${callers} callers, ${seconds} s each:`);
  for (const kind of KINDS) {
    const rs = all.filter((r) => r.kind === kind);
    console.log(
      `  ${kind.padEnd(18)} ${median(rs.map((r) => r.statementsPerSec))
        .toFixed(0)
        .padStart(6)} per s, ` +
        `${median(rs.map((r) => r.cpuUsPerStatement)).toFixed(1)} us CPU each, survived ${median(rs.map((r) => r.survivedKbPerScavenge)).toFixed(0)} KB ` +
        `and promoted ${median(rs.map((r) => r.promotedKbPerScavenge)).toFixed(0)} KB per young GC, GC pauses ${median(rs.map((r) => r.gcPausePct)).toFixed(1)}%`,
    );
  }
}

await main();
