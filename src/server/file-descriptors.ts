import { existsSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';

/**
 * FileDescriptorProtos for server reflection, built from the .proto sources at startup.
 *
 * proto-loader's own descriptors merge every file of a package into a made-up `pkg_name.proto`
 * with no dependency list, so a reflection client that follows imports (grpcurl describe,
 * google.protobuf.Timestamp) cannot resolve them (grpc-node issue 2958). Here each descriptor
 * keeps its real file name (relative to the include dir, as `import` spells it) and lists the
 * files it depends on, rebuilt from the resolved type references.
 */
export function buildFileDescriptorProtos(
  entryFiles: readonly string[],
  includeDirs: readonly string[],
  /** Published names for files whose path on disk differs from the canonical one. */
  renames: Readonly<Record<string, string>> = {},
): Buffer[] {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (isAbsolute(target)) return target;
    for (const dir of includeDirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target;
  };
  root.loadSync([...entryFiles], { keepCase: true });
  root.resolveAll();

  const bundled = bundledFileOfSymbol();
  const fileOf = (obj: protobuf.ReflectionObject): string => {
    if (obj.filename) {
      const name = protoName(obj.filename, includeDirs);
      return renames[name] ?? name;
    }
    const name = bundled.get(obj.fullName.slice(1));
    if (name === undefined) throw new Error(`no source file known for ${obj.fullName}`);
    return name;
  };

  const files = new Map<string, FileParts>();
  const partsOf = (name: string, pkg: string): FileParts => {
    let parts = files.get(name);
    if (parts === undefined) {
      parts = { pkg, deps: new Set(), messages: [], enums: [], services: [] };
      files.set(name, parts);
    }
    return parts;
  };

  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const nested of ns.nestedArray) {
      if (
        nested instanceof protobuf.Type ||
        nested instanceof protobuf.Enum ||
        nested instanceof protobuf.Service
      ) {
        const name = fileOf(nested);
        const parts = partsOf(name, ns.fullName.slice(1));
        const addDep = (t: protobuf.ReflectionObject | null | undefined) => {
          if (!t) return;
          const dep = fileOf(t);
          if (dep !== name) parts.deps.add(dep);
        };
        const described = (nested as unknown as Describable).toDescriptor('proto3');
        if (nested instanceof protobuf.Type) {
          qualifyTypeNames(nested, described as MessageDescriptor);
          parts.messages.push(described);
          for (const field of allFields(nested)) addDep(field.resolvedType);
        } else if (nested instanceof protobuf.Enum) {
          parts.enums.push(described);
        } else {
          parts.services.push(described);
          for (const method of nested.methodsArray) {
            method.resolve();
            addDep(method.resolvedRequestType);
            addDep(method.resolvedResponseType);
          }
        }
      } else if (nested instanceof protobuf.Namespace) {
        visit(nested);
      }
    }
  };
  visit(root);

  return [...files].map(([name, parts]) => {
    const file = descriptor.FileDescriptorProto.create({
      name,
      package: parts.pkg,
      dependency: [...parts.deps].sort(),
      messageType: parts.messages,
      enumType: parts.enums,
      service: parts.services,
      syntax: 'proto3',
    });
    return Buffer.from(descriptor.FileDescriptorProto.encode(file).finish());
  });
}

interface FileParts {
  pkg: string;
  deps: Set<string>;
  messages: unknown[];
  enums: unknown[];
  services: unknown[];
}

/** Added to protobufjs' reflection classes by `protobufjs/ext/descriptor`. */
interface Describable {
  toDescriptor(syntax: string): unknown;
}

interface FieldDescriptor {
  name: string;
  typeName?: string;
}
interface MessageDescriptor {
  name: string;
  field: FieldDescriptor[];
  nestedType: MessageDescriptor[];
}

/**
 * Rewrites protobufjs' descriptors the way protoc writes them: type references fully qualified
 * (`.ledger.v1.Account`, protobufjs writes `Account`) and map entries named `FieldNameEntry`,
 * which strict clients (Go's protodesc behind grpcurl) check.
 */
function qualifyTypeNames(type: protobuf.Type, described: MessageDescriptor): void {
  for (const field of described.field) {
    const source = type.fields[field.name];
    if (source === undefined) continue;
    if (source.map) {
      const entry = described.nestedType.find((n) => n.name === field.typeName);
      if (entry === undefined) continue;
      entry.name = mapEntryName(field.name);
      field.typeName = `${type.fullName}.${entry.name}`;
      const value = entry.field.find((f) => f.name === 'value');
      if (value !== undefined && source.resolvedType) value.typeName = source.resolvedType.fullName;
    } else if (source.resolvedType) {
      field.typeName = source.resolvedType.fullName;
    }
  }
  for (const nested of described.nestedType) {
    const child = type.nested?.[nested.name];
    if (child instanceof protobuf.Type) qualifyTypeNames(child, nested);
  }
}

/** protoc's rule: `foo_bar` -> `FooBarEntry`. */
function mapEntryName(fieldName: string): string {
  const camel = fieldName.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
  return `${camel.charAt(0).toUpperCase()}${camel.slice(1)}Entry`;
}

function allFields(type: protobuf.Type): protobuf.Field[] {
  const fields = [...type.fieldsArray];
  for (const nested of type.nestedArray)
    if (nested instanceof protobuf.Type) fields.push(...allFields(nested));
  return fields;
}

function protoName(filename: string, includeDirs: readonly string[]): string {
  for (const dir of includeDirs) {
    const rel = relative(dir, filename);
    if (!rel.startsWith('..') && !isAbsolute(rel)) return rel.split('\\').join('/');
  }
  return filename;
}

/**
 * protobufjs bundles the well-known google/protobuf/*.proto files as JSON without a file name:
 * recover each symbol's file from the bundle itself.
 */
function bundledFileOfSymbol(): Map<string, string> {
  const bySymbol = new Map<string, string>();
  const common = protobuf.common as unknown as Record<string, { nested?: NestedJson }>;
  const walk = (file: string, prefix: string, nested: NestedJson | undefined) => {
    for (const [key, value] of Object.entries(nested ?? {})) {
      const name = prefix === '' ? key : `${prefix}.${key}`;
      if (value.fields !== undefined || value.values !== undefined || value.methods !== undefined) {
        bySymbol.set(name, file);
      }
      walk(file, name, value.nested);
    }
  };
  for (const [file, json] of Object.entries(common)) {
    if (typeof json === 'object' && json !== null) walk(file, '', json.nested);
  }
  return bySymbol;
}

interface NestedJson {
  [name: string]: { fields?: unknown; values?: unknown; methods?: unknown; nested?: NestedJson };
}
