import type { ClientSecurity } from '../../client/client-security.js';
import { HealthClient } from '../../client/health-client.js';
import { ReflectionClient, type ReflectionVersion } from '../../client/reflection-client.js';
import { ledgerServiceDefinition } from '../../wire/ledger-proto.js';
import type { ConformanceRule } from './conformance-rule.js';

const LEDGER_FILE = 'ledger/v1/ledger.proto';
const TIMESTAMP_FILE = 'google/protobuf/timestamp.proto';
const describeError = (err: unknown): string => (err instanceof Error ? err.message : String(err));

async function checkReflection(
  version: ReflectionVersion,
  target: string,
  security: ClientSecurity | undefined,
): Promise<string[]> {
  const problems: string[] = [];
  const client = new ReflectionClient(target, version, {}, security);
  const request = `grpc.reflection.${version} file_containing_symbol "ledger.v1.Ledger"`;
  try {
    const files = await client.fileContainingSymbol('ledger.v1.Ledger');
    const ledger = files[0];
    if (ledger === undefined) return [`${request} -> no files; expected ${LEDGER_FILE}`];
    if (ledger.name !== LEDGER_FILE)
      problems.push(`${request} -> file "${ledger.name}"; expected "${LEDGER_FILE}"`);
    if (!ledger.dependency.includes(TIMESTAMP_FILE)) {
      problems.push(
        `${request} -> dependencies [${ledger.dependency}]; expected to include "${TIMESTAMP_FILE}"`,
      );
    }
    const methods = ledger.service.find((s) => s.name === 'Ledger')?.method.map((m) => m.name) ?? [];
    // The contract's methods, as the proto this kit was built from declares them.
    const wanted = Object.keys(ledgerServiceDefinition());
    if (wanted.some((m) => !methods.includes(m))) {
      problems.push(`${request} -> service Ledger methods [${methods}]; expected [${wanted}]`);
    }
    const tsRequest = `grpc.reflection.${version} file_by_filename "${TIMESTAMP_FILE}"`;
    try {
      const ts = await client.fileByFilename(TIMESTAMP_FILE);
      if (ts[0]?.name !== TIMESTAMP_FILE || !ts[0].messageType.some((m) => m.name === 'Timestamp')) {
        problems.push(
          `${tsRequest} -> file "${ts[0]?.name}"; expected "${TIMESTAMP_FILE}" declaring Timestamp`,
        );
      }
    } catch (err) {
      problems.push(`${tsRequest} -> ${describeError(err)}; expected the file (dependencies must resolve)`);
    }
  } catch (err) {
    problems.push(`${request} -> ${describeError(err)}; expected the descriptor of ${LEDGER_FILE}`);
  } finally {
    client.close();
  }
  return problems;
}

/** The standard services tools rely on: grpc_health_probe and grpcurl must work unmodified. */
export const standardServicesRules: ConformanceRule[] = [
  {
    name: 'health',
    summary: 'grpc.health.v1 Check reports SERVING for "" and "ledger.v1.Ledger"',
    async run(ctx) {
      const client = new HealthClient(ctx.target, {}, ctx.security);
      try {
        for (const service of ['', 'ledger.v1.Ledger']) {
          const request = `grpc.health.v1.Health/Check {service: ${JSON.stringify(service)}}`;
          try {
            const status = await client.check(service, ctx.deadlineMs);
            if (status !== 'SERVING') ctx.violation(request, status, 'SERVING');
          } catch (err) {
            ctx.violation(request, describeError(err), 'SERVING');
          }
        }
      } finally {
        client.close();
      }
    },
  },
  {
    name: 'reflection',
    summary: `server reflection resolves ledger.v1.Ledger to ${LEDGER_FILE}, whose import ${TIMESTAMP_FILE} resolves too`,
    async run(ctx) {
      const v1 = await checkReflection('v1', ctx.target, ctx.security);
      if (v1.length === 0) return;
      // Older tools speak v1alpha only: a server serving that one correctly conforms too.
      const alpha = await checkReflection('v1alpha', ctx.target, ctx.security);
      if (alpha.length === 0) return;
      for (const p of v1) ctx.violations.push(p);
    },
  },
];
