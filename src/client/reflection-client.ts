import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { type ClientSecurity, channelCredentials } from './client-security.js';

export type ReflectionVersion = 'v1' | 'v1alpha';

/**
 * A FileDescriptorProto as a plain object (protobufjs field names; unset scalars are absent, so
 * `descriptor.FileDescriptorSet.fromObject({file})` rebuilds it exactly). Typed for the parts a
 * reflection client usually reads.
 */
export interface FileDescriptor {
  name: string;
  package?: string;
  dependency: string[];
  messageType: { name: string; field: { name: string; number: number; typeName?: string }[] }[];
  enumType: { name: string }[];
  service: { name: string; method: { name: string; inputType: string; outputType: string }[] }[];
  syntax?: string;
}

/** The server answered a reflection request with an ErrorResponse (or the stream failed). */
export class ReflectionCallError extends Error {
  override readonly name = 'ReflectionCallError';
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`${grpc.status[code] ?? code}: ${details}`);
  }
}

interface ReflectionRequest {
  host?: string;
  file_by_filename?: string;
  file_containing_symbol?: string;
  list_services?: string;
}
interface ReflectionResponse {
  message_response: 'file_descriptor_response' | 'list_services_response' | 'error_response' | string;
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  list_services_response?: { service: { name: string }[] };
  error_response?: { error_code: number; error_message: string };
}
interface ReflectionStub extends grpc.Client {
  ServerReflectionInfo(): grpc.ClientDuplexStream<ReflectionRequest, ReflectionResponse>;
}

function reflectionService(version: ReflectionVersion): grpc.ServiceDefinition {
  // @grpc/reflection ships both versions of reflection.proto beside its build.
  const packageDir = dirname(dirname(createRequire(import.meta.url).resolve('@grpc/reflection')));
  const file = `grpc/reflection/${version}/reflection.proto`;
  const definition = protoLoader.loadSync(file, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [join(packageDir, 'proto')],
  });
  return definition[`grpc.reflection.${version}.ServerReflection`] as grpc.ServiceDefinition;
}

/**
 * A typed client of gRPC server reflection (grpc.reflection.v1 or v1alpha), as grpcurl uses it.
 * Each question runs on its own short stream.
 */
export class ReflectionClient {
  private readonly stub: ReflectionStub;

  constructor(
    readonly target: string,
    readonly version: ReflectionVersion = 'v1',
    channelOptions: grpc.ChannelOptions = {},
    security?: ClientSecurity,
  ) {
    const Ctor = grpc.makeGenericClientConstructor(reflectionService(version), 'ServerReflection');
    this.stub = new Ctor(target, channelCredentials(security), channelOptions) as unknown as ReflectionStub;
  }

  /** Fully-qualified names of the services the server publishes. */
  async listServices(): Promise<string[]> {
    const response = await this.ask({ list_services: '*' });
    return (response.list_services_response?.service ?? []).map((s) => s.name);
  }

  /** The file declaring `symbol` (e.g. ledger.v1.Ledger), first, then the files it imports. */
  async fileContainingSymbol(symbol: string): Promise<FileDescriptor[]> {
    return decodeFiles(await this.ask({ file_containing_symbol: symbol }));
  }

  /** The file named `filename` (e.g. google/protobuf/timestamp.proto), first, then its imports. */
  async fileByFilename(filename: string): Promise<FileDescriptor[]> {
    return decodeFiles(await this.ask({ file_by_filename: filename }));
  }

  close(): void {
    this.stub.close();
  }

  private ask(request: ReflectionRequest): Promise<ReflectionResponse> {
    return new Promise((resolve, reject) => {
      const call = this.stub.ServerReflectionInfo();
      let answer: ReflectionResponse | undefined;
      call.on('data', (response: ReflectionResponse) => {
        answer ??= response;
        call.end();
      });
      call.on('error', () => {});
      call.on('status', (status: grpc.StatusObject) => {
        if (answer === undefined) {
          reject(new ReflectionCallError(status.code, status.details || 'stream ended without an answer'));
        } else if (answer.error_response !== undefined && answer.error_response !== null) {
          const { error_code, error_message } = answer.error_response;
          reject(new ReflectionCallError(error_code, error_message));
        } else {
          resolve(answer);
        }
      });
      call.write({ host: '', ...request });
    });
  }
}

function decodeFiles(response: ReflectionResponse): FileDescriptor[] {
  return (response.file_descriptor_response?.file_descriptor_proto ?? []).map((bytes) => {
    const message = descriptor.FileDescriptorProto.decode(bytes);
    // No `defaults`: a default-filled oneofIndex would put every field into a oneof.
    return descriptor.FileDescriptorProto.toObject(message, {
      arrays: true,
      enums: String,
    }) as FileDescriptor;
  });
}
