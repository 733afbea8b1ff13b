import * as grpc from '@grpc/grpc-js';
import { InvariantViolation, LedgerError } from '../domain/errors.js';
import { type AccessControl, authorize, type Role } from './access-control.js';
import { AnswerTrailer } from './answer-trailer.js';
import type { Logger } from './logger.js';
import { GRPC_STATUS_OF, INTERNAL_ERROR_MESSAGE } from './status-codes.js';

/** What a handler answers: the wire response, and whether it replays a recorded outcome. */
export interface HandlerReply<Res> {
  response: Res;
  replayed: boolean;
  /** The write's transaction id (generated for a CreateAccount without one). */
  transactionId?: string | undefined;
}

/** The request's identity for the failure log line. */
export interface CallSubject {
  accountIds: string[];
  transactionId?: string | undefined;
}

export interface UnaryAdapterContext {
  logger: Logger;
  /** Called after the INTERNAL answer went out: the ledger can no longer vouch for its state. */
  onInvariantViolation: (err: InvariantViolation) => void;
  /** Who may call: absent when the server runs without authentication (every caller is ''). */
  access?: AccessControl | undefined;
  /** Sees every answered call (metrics); absent costs nothing. */
  observer?: CallObserver | undefined;
}

export interface CallObserver {
  /** `startedNs` is process.hrtime.bigint() when the call reached the handler. */
  callEnded(method: string, code: grpc.status, startedNs: bigint): void;
}

/** What a call needs: the least role, and how a refusal names it ("call UpdateBalance"). */
export interface AccessNeed {
  role: Role;
  action: string;
}

export interface UnaryMethodSpec<Req, Res, Out = HandlerReply<Res>> {
  /** The RPC name, e.g. TransferFunds (logged as `operation`). */
  method: string;
  subject: (request: Req) => CallSubject;
  /** Checked before the handler runs (the call counts in flight from its headers, call-gate.ts, until refused). */
  access: (request: Req) => AccessNeed;
  /** `principal` is the authenticated caller ('' when the server runs without authentication). */
  handle: (
    request: Req,
    principal: string,
    /** Long handlers check this between steps: an abandoned call is not worth finishing. */
    cancelled: () => boolean,
  ) => Out | Promise<Out>;
  /**
   * Turns what `handle` gave into the answer (absent: it is the answer). Apart from `handle` so
   * that an engine's promise is answered when it settles, with no promise of the handler's own.
   */
  reply?: (out: Out) => HandlerReply<Res>;
}

/**
 * Every answer's trailer: how long the server handled the call (from the handler's start to the
 * answer, in whole microseconds, docs/contract.md), so a client can tell server time from the rest.
 */
const answerTrailer = (startedMs: number, replayed: boolean): grpc.Metadata =>
  new AnswerTrailer(startedMs, replayed);

/**
 * The one path every ledger RPC takes (calls in flight are bounded before it, in call-gate.ts):
 * skips a call already cancelled, awaits the handler, answers
 * exactly once, and turns every throw into a status (grpc-js would drop a rejected promise and
 * Node would die of the unhandled rejection). Domain errors keep their code and exact message;
 * anything else is INTERNAL with a generic message and its stack in the log.
 */
export function unaryHandler<Req, Res, Out = HandlerReply<Res>>(
  spec: UnaryMethodSpec<Req, Res, Out>,
  ctx: UnaryAdapterContext,
): grpc.handleUnaryCall<Req, Res> {
  const { logger } = ctx;
  const toReply = spec.reply ?? ((out: Out) => out as unknown as HandlerReply<Res>);

  const describe = (request: Req): CallSubject => {
    try {
      return spec.subject(request);
    } catch {
      // A request too malformed to describe still gets its failure logged.
      return { accountIds: [] };
    }
  };

  const logFailure = (request: Req, err: LedgerError, extra: object = {}): void => {
    const fields = { operation: spec.method, ...describe(request), code: err.code, replayed: err.replayed };
    logger.error({ ...fields, ...extra }, err.message);
  };

  const answerError = (
    request: Req,
    err: unknown,
    callback: grpc.sendUnaryData<Res>,
    startedMs: number,
  ): InvariantViolation | undefined => {
    if (err instanceof LedgerError) {
      logFailure(request, err);
      const trailer = answerTrailer(startedMs, err.replayed);
      callback({ code: GRPC_STATUS_OF[err.code], details: err.message, metadata: trailer }, null, trailer);
      return undefined;
    }
    const internal = { code: grpc.status.INTERNAL, details: INTERNAL_ERROR_MESSAGE };
    const fields = { operation: spec.method, ...describe(request), code: 'INTERNAL', err };
    if (err instanceof InvariantViolation) {
      logger.fatal(fields, err.message);
      callback(internal, null);
      return err;
    }
    logger.error(fields, err instanceof Error ? err.message : String(err));
    callback(internal, null);
    return undefined;
  };

  /** Sends the handler's reply (unless its client is gone) and traces it. */
  const answer = (
    request: Req,
    reply: HandlerReply<Res>,
    callback: grpc.sendUnaryData<Res>,
    startedMs: number,
    cancelled: () => boolean,
  ): void => {
    // Its client is gone: grpc-js would drop the answer (the work, if any, is done and logged).
    if (cancelled()) return;
    callback(null, reply.response, answerTrailer(startedMs, reply.replayed));
    // Traces every answered call; the only place a generated CreateAccount id is visible.
    if (logger.isLevelEnabled('debug')) {
      const { replayed, transactionId } = reply;
      logger.debug({ operation: spec.method, ...describe(request), transactionId, replayed }, 'ok');
    }
  };

  const fail = (request: Req, err: unknown, callback: grpc.sendUnaryData<Res>, startedMs: number): void => {
    const violation = answerError(request, err, callback, startedMs);
    if (violation !== undefined) ctx.onInvariantViolation(violation);
  };

  const answerFailed = (err: unknown): void => {
    // Only reachable if answering itself threw (e.g. a response that fails to serialize).
    logger.error({ operation: spec.method, code: 'INTERNAL', err }, 'failed to answer a call');
  };

  const failed = (request: Req, err: unknown, callback: grpc.sendUnaryData<Res>, startedMs: number): void => {
    try {
      fail(request, err, callback, startedMs);
    } catch (failure) {
      answerFailed(failure);
    }
  };

  /** Answers what the handler gave: a throw while making the answer is the call's failure. */
  const settled = (
    request: Req,
    out: Out,
    callback: grpc.sendUnaryData<Res>,
    startedMs: number,
    cancelled: () => boolean,
  ): void => {
    let reply: HandlerReply<Res>;
    try {
      reply = toReply(out);
    } catch (err) {
      failed(request, err, callback, startedMs);
      return;
    }
    try {
      answer(request, reply, callback, startedMs, cancelled);
    } catch (err) {
      answerFailed(err);
    }
  };

  /**
   * Runs the handler and answers. A handler that answers synchronously (an in-memory read) is
   * answered in the same turn, with no promise; an asynchronous one when it settles.
   */
  const serve = (
    request: Req,
    principal: string,
    callback: grpc.sendUnaryData<Res>,
    startedMs: number,
    cancelled: () => boolean,
  ): void => {
    let out: Out | Promise<Out>;
    try {
      out = spec.handle(request, principal, cancelled);
    } catch (err) {
      failed(request, err, callback, startedMs);
      return;
    }
    if (!(out instanceof Promise)) {
      settled(request, out, callback, startedMs, cancelled);
      return;
    }
    // Neither reaction throws, so the promise .then makes is never rejected.
    out.then(
      (value) => settled(request, value, callback, startedMs, cancelled),
      (err: unknown) => failed(request, err, callback, startedMs),
    );
  };

  const { access, observer } = ctx;

  /** Authenticates and authorises; answers the refusal itself and returns undefined then. */
  const admit = (
    call: grpc.ServerUnaryCall<Req, Res>,
    callback: grpc.sendUnaryData<Res>,
    startedMs: number,
  ): string | undefined => {
    if (access === undefined) return '';
    let principal: string | undefined;
    try {
      const who = access.authenticate(call.metadata, () => call.getAuthContext());
      principal = who.name;
      const need = spec.access(call.request);
      authorize(who, need.role, need.action);
      return who.name;
    } catch (err) {
      if (!(err instanceof LedgerError)) throw err;
      // The principal (never the token) shows who was refused. Failed authentications are logged
      // once a second with counts by guessing-guard.ts: one line per guess would flood the log.
      if (err.code !== 'UNAUTHENTICATED')
        logFailure(call.request, err, principal === undefined ? {} : { principal });
      const trailer = answerTrailer(startedMs, false);
      callback({ code: GRPC_STATUS_OF[err.code], details: err.message, metadata: trailer }, null, trailer);
      return undefined;
    }
  };

  return (call, answer) => {
    // The client gave up (or its deadline passed) before the call got here: nobody is waiting.
    if (call.cancelled) return;
    let callback = answer;
    if (observer !== undefined) {
      const startedNs = process.hrtime.bigint();
      callback = (err, value, trailer, flags) => {
        observer.callEnded(
          spec.method,
          err === null ? grpc.status.OK : (err.code ?? grpc.status.UNKNOWN),
          startedNs,
        );
        answer(err, value, trailer, flags);
      };
    }
    const startedMs = performance.now();
    const principal = admit(call, callback, startedMs);
    if (principal === undefined) return;
    serve(call.request, principal, callback, startedMs, () => call.cancelled);
  };
}
