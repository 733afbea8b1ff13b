import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { type MessageRule, messageRule, wireProblem } from './wire-check.js';

/**
 * What a strict deserializer hands to grpc-js instead of a request it refuses. grpc-js would
 * answer a throwing deserializer with INTERNAL; this value travels to the server interceptor
 * (src/server/strict-decoding.ts), which answers INVALID_ARGUMENT before any handler runs.
 */
export class MalformedRequest {
  constructor(
    /** Why, in a few words (docs/contract.md lists them). */
    readonly reason: string,
  ) {}
}

/**
 * What a strict deserializer hands to grpc-js instead of a request above its method's size limit
 * (grpc-js's own limit is server-wide, so it is set to the largest method's and each method is
 * held to its own here); the call gate answers RESOURCE_EXHAUSTED before any handler runs.
 */
export class OversizeRequest {
  constructor(
    readonly bytes: number,
    readonly limitBytes: number,
  ) {}
}

/** The largest request a method accepts, in bytes, by its path (`/package.Service/Method`). */
export type RequestSizeLimit = (path: string) => number;

/**
 * A response already encoded (e.g. a large snapshot encoded in slices between other calls):
 * the service's response serializer passes its bytes through.
 */
export class EncodedResponse {
  constructor(readonly bytes: Buffer) {}
}

/** proto-loader's request type: its DescriptorProto and the FileDescriptorProtos it comes from. */
interface LoadedMessageType {
  type?: { name?: string };
  fileDescriptorProtos?: Buffer[];
}

type RootFromDescriptor = (set: unknown) => protobuf.Root;

interface DecodedFile {
  name: string;
  package?: string;
}

/** The rule of a proto-loader request type, found in the Root built from its own file descriptors. */
function requestRule(
  requestType: LoadedMessageType,
  cache: Map<protobuf.Type, MessageRule>,
): MessageRule | undefined {
  const files = requestType.fileDescriptorProtos;
  const shortName = requestType.type?.name;
  if (files === undefined || files.length === 0 || shortName === undefined) return undefined;
  const decoded = files.map((b) => descriptor.FileDescriptorProto.decode(b));
  const fromDescriptor = (protobuf.Root as unknown as { fromDescriptor: RootFromDescriptor }).fromDescriptor;
  const root = fromDescriptor({ file: decoded });
  root.resolveAll();
  // proto-loader lists the message's own file first.
  const pkg = (decoded[0] as unknown as DecodedFile).package;
  const fullName = pkg ? `${pkg}.${shortName}` : shortName;
  const type = root.lookupType(fullName);
  return messageRule(type, cache);
}

/**
 * The same service with every request deserializer made strict: bytes that a strict protobuf
 * parser refuses become a MalformedRequest instead of whatever protobufjs's lenient reader makes
 * of them. Driven by the descriptors, so it covers every method, nested messages included.
 * Responses may be handed over already encoded (EncodedResponse).
 */
export function strictService(
  service: grpc.ServiceDefinition,
  maxRequestBytes?: RequestSizeLimit,
): grpc.ServiceDefinition {
  const cache = new Map<protobuf.Type, MessageRule>();
  const strict: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service)) {
    const requestType = (method as { requestType?: LoadedMessageType }).requestType;
    const rule = requestType === undefined ? undefined : requestRule(requestType, cache);
    if (rule === undefined) throw new Error(`no descriptor for the request of ${method.path}`);
    const lenient = method.requestDeserialize;
    const serialize = method.responseSerialize;
    const limitBytes = maxRequestBytes?.(method.path) ?? Number.POSITIVE_INFINITY;
    strict[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        // Size first: an oversize request is not worth the wire check.
        if (bytes.length > limitBytes) return new OversizeRequest(bytes.length, limitBytes);
        const problem = wireProblem(bytes, rule);
        return problem === undefined ? lenient(bytes) : new MalformedRequest(problem);
      },
      responseSerialize: (value: unknown) =>
        value instanceof EncodedResponse ? value.bytes : serialize(value),
    };
  }
  return strict as grpc.ServiceDefinition;
}

/**
 * A stand-in for a server's addService that makes every service it registers strict, each method
 * held to its own request size limit.
 */
export function strictServices(
  server: Pick<grpc.Server, 'addService'>,
  maxRequestBytes?: RequestSizeLimit,
): Pick<grpc.Server, 'addService'> {
  return {
    addService: (service, implementation) =>
      server.addService(strictService(service, maxRequestBytes), implementation),
  };
}
