import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs';

/**
 * A strict validating pass over protobuf wire bytes, driven by the message's descriptor, run
 * before protobufjs decodes them. protobufjs's reader is lenient (a length past the end is
 * clamped, an unterminated varint is read as a value, a wrong wire type on a known field is read
 * anyway, invalid UTF-8 becomes U+FFFD); strict parsers (protobuf C++, Go) refuse all of these.
 * After this pass, protobufjs only ever sees input it decodes exactly.
 *
 * Stricter than C++ and Go in one respect: a known field with the wrong wire type is refused
 * (they keep it as an unknown field), since a client that sends it means something we would not do.
 * Unknown fields with a well-formed encoding are accepted, as every proto3 parser does.
 */

/** Wire types: 0 varint, 1 fixed64, 2 length-delimited, 3 start group, 4 end group, 5 fixed32. */
type WireType = 0 | 1 | 2 | 5;

export interface FieldRule {
  /** Field name as declared (for the message of a refusal). */
  readonly name: string;
  readonly wire: WireType;
  /** Repeated scalar numeric: a packed (length-delimited) encoding is also valid. */
  readonly packable: boolean;
  /** string fields (and map keys/values of type string) must be valid UTF-8. */
  readonly utf8: boolean;
  /** Resolved lazily: message types may refer to themselves. */
  readonly message: (() => MessageRule) | undefined;
}

export interface MessageRule {
  readonly name: string;
  readonly fields: ReadonlyMap<number, FieldRule>;
  /** The same rules indexed by number, for the small numbers every real message uses (fast lookup). */
  readonly byNumber: readonly (FieldRule | undefined)[];
}

const DENSE_FIELD_NUMBERS = 64;

function indexed(fields: ReadonlyMap<number, FieldRule>): (FieldRule | undefined)[] {
  const byNumber: (FieldRule | undefined)[] = new Array(DENSE_FIELD_NUMBERS).fill(undefined);
  for (const [n, rule] of fields) if (n < DENSE_FIELD_NUMBERS) byNumber[n] = rule;
  return byNumber;
}

/** Deepest nesting of messages and groups accepted (protobuf C++'s default recursion limit). */
export const MAX_WIRE_NESTING_DEPTH = 100;
const MAX_FIELD_NUMBER = 2 ** 29 - 1;

const WIRE_OF_SCALAR: Readonly<Record<string, WireType>> = {
  int32: 0,
  int64: 0,
  uint32: 0,
  uint64: 0,
  sint32: 0,
  sint64: 0,
  bool: 0,
  fixed64: 1,
  sfixed64: 1,
  double: 1,
  fixed32: 5,
  sfixed32: 5,
  float: 5,
  string: 2,
  bytes: 2,
};

const EMPTY_RULE: MessageRule = { name: '(unknown group)', fields: new Map(), byNumber: indexed(new Map()) };

/** Compiles (and caches) the rule of a resolved protobufjs Type. */
export function messageRule(type: protobuf.Type, cache = new Map<protobuf.Type, MessageRule>()): MessageRule {
  const cached = cache.get(type);
  if (cached !== undefined) return cached;
  const fields = new Map<number, FieldRule>();
  const byNumber = indexed(fields);
  const rule: MessageRule = { name: type.fullName.replace(/^\./, ''), fields, byNumber };
  cache.set(type, rule);
  for (const field of type.fieldsArray) {
    field.resolve();
    const compiled = fieldRule(field, cache);
    fields.set(field.id, compiled);
    if (field.id < DENSE_FIELD_NUMBERS) byNumber[field.id] = compiled;
  }
  return rule;
}

function fieldRule(field: protobuf.Field, cache: Map<protobuf.Type, MessageRule>): FieldRule {
  if (field instanceof protobuf.MapField) {
    // A map is a repeated entry message {1: key, 2: value}.
    const key = scalarOrTypeRule('key', field.keyType, undefined, false, cache);
    const value = scalarOrTypeRule('value', field.type, field.resolvedType, false, cache);
    const entryFields = new Map([
      [1, key],
      [2, value],
    ]);
    const entry: MessageRule = {
      name: `${field.name} entry`,
      fields: entryFields,
      byNumber: indexed(entryFields),
    };
    return { name: field.name, wire: 2, packable: false, utf8: false, message: () => entry };
  }
  return scalarOrTypeRule(field.name, field.type, field.resolvedType, field.repeated, cache);
}

function scalarOrTypeRule(
  name: string,
  typeName: string,
  resolved: protobuf.Type | protobuf.Enum | null | undefined,
  repeated: boolean,
  cache: Map<protobuf.Type, MessageRule>,
): FieldRule {
  if (resolved instanceof protobuf.Type) {
    let rule: MessageRule | undefined;
    return {
      name,
      wire: 2,
      packable: false,
      utf8: false,
      message: () => {
        rule ??= messageRule(resolved, cache);
        return rule;
      },
    };
  }
  if (resolved instanceof protobuf.Enum)
    return { name, wire: 0, packable: repeated, utf8: false, message: undefined };
  const wire = WIRE_OF_SCALAR[typeName];
  if (wire === undefined) throw new Error(`unsupported field type ${typeName} of field ${name}`);
  return { name, wire, packable: repeated && wire !== 2, utf8: typeName === 'string', message: undefined };
}

/** Why the bytes are refused: one short phrase, documented in docs/contract.md. */
class WireError extends Error {}

// The varint reader's result lives here rather than in an allocated pair (this runs on every call).
let varintValue = 0;

/** Reads a varint at `pos`; returns the position after it. Values past 2^53 lose precision, which only lengths use (and those are compared with what is left). */
function readVarint(buf: Uint8Array, start: number, end: number): number {
  let value = 0;
  let scale = 1;
  let pos = start;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new WireError(`unterminated varint at byte ${start}`);
    const b = buf[pos++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (i === 9 && b > 1) break;
      varintValue = value;
      return pos;
    }
    scale *= 128;
  }
  throw new WireError(`varint longer than 64 bits at byte ${start}`);
}

const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32'];

/** Built only for a refusal or a nested message on the naming pass: the fast pass allocates nothing per field. */
function fieldName(path: string | undefined, field: FieldRule | undefined, number: number): string {
  return fieldPath(path, field === undefined ? String(number) : field.name);
}

function fieldPath(prefix: string | undefined, name: string): string {
  return prefix === undefined || prefix === '' ? name : `${prefix}.${name}`;
}

/**
 * Validates `buf[start, end)` as a message of `rule`. Returns the position after the message, or
 * (when `group` is a field number) after the end-group tag that closes that group.
 */
function checkMessage(
  buf: Uint8Array,
  start: number,
  end: number,
  rule: MessageRule,
  depth: number,
  /** The dotted field path for messages; undefined on the fast pass, which names nothing. */
  path: string | undefined,
  group: number,
): number {
  if (depth > MAX_WIRE_NESTING_DEPTH) throw new WireError(`nesting deeper than ${MAX_WIRE_NESTING_DEPTH}`);
  let pos = start;
  while (pos < end) {
    const tagAt = pos;
    pos = readVarint(buf, pos, end);
    const tag = varintValue;
    const wire = tag % 8;
    const number = Math.floor(tag / 8);
    if (number === 0) throw new WireError(`field number 0 at byte ${tagAt}`);
    if (number > MAX_FIELD_NUMBER)
      throw new WireError(`field number ${number} out of range at byte ${tagAt}`);
    if (wire === 6 || wire === 7) throw new WireError(`invalid wire type ${wire} at byte ${tagAt}`);
    if (wire === 4) {
      if (number !== group) {
        throw new WireError(
          `end-group tag of field ${number} without a matching start-group at byte ${tagAt}`,
        );
      }
      return pos;
    }
    const field = number < rule.byNumber.length ? rule.byNumber[number] : rule.fields.get(number);
    if (field !== undefined && wire !== field.wire && !(wire === 2 && field.packable)) {
      throw new WireError(
        `field ${fieldName(path, field, number)} has wire type ${WIRE_NAMES[wire]}, expected ${WIRE_NAMES[field.wire]}`,
      );
    }
    switch (wire) {
      case 0:
        pos = readVarint(buf, pos, end);
        break;
      case 1:
        if (end - pos < 8)
          throw new WireError(`field ${fieldName(path, field, number)} runs past the end of the message`);
        pos += 8;
        break;
      case 5:
        if (end - pos < 4)
          throw new WireError(`field ${fieldName(path, field, number)} runs past the end of the message`);
        pos += 4;
        break;
      case 3:
        // Only unknown fields get here (no proto3 field is a group): skip it, well-formed.
        pos = checkMessage(
          buf,
          pos,
          end,
          EMPTY_RULE,
          depth + 1,
          path === undefined ? undefined : fieldName(path, field, number),
          number,
        );
        break;
      case 2: {
        pos = readVarint(buf, pos, end);
        const length = varintValue;
        if (length > end - pos)
          throw new WireError(`field ${fieldName(path, field, number)} runs past the end of the message`);
        const valueEnd = pos + length;
        if (field !== undefined) {
          if (field.wire !== 2) checkPacked(buf, pos, valueEnd, field, fieldName(path, field, number));
          else if (field.utf8 && !isValidUtf8(buf, pos, valueEnd))
            throw new WireError(`field ${fieldName(path, field, number)} is not valid UTF-8`);
          else if (field.message !== undefined)
            checkMessage(
              buf,
              pos,
              valueEnd,
              field.message(),
              depth + 1,
              path === undefined ? undefined : fieldName(path, field, number),
              0,
            );
        }
        pos = valueEnd;
        break;
      }
    }
  }
  if (group !== 0) throw new WireError(`group ${path ?? group} is not closed`);
  return pos;
}

/** ASCII (most ids) is checked in place; anything else by Node's validator (no overlongs, no surrogates). */
function isValidUtf8(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) return isUtf8(buf.subarray(start, end));
  }
  return true;
}

function checkPacked(buf: Uint8Array, start: number, end: number, field: FieldRule, name: string): void {
  if (field.wire === 0) {
    let pos = start;
    while (pos < end) pos = readVarint(buf, pos, end);
    return;
  }
  const size = field.wire === 1 ? 8 : 4;
  if ((end - start) % size !== 0) throw new WireError(`packed field ${name} ends inside a value`);
}

/** undefined when `bytes` is a well-formed encoding of `rule`; otherwise why not, in a few words. */
export function wireProblem(bytes: Uint8Array, rule: MessageRule): string | undefined {
  try {
    // Fast pass: no field paths are built (nested messages would each cost a string).
    checkMessage(bytes, 0, bytes.length, rule, 0, undefined, 0);
    return undefined;
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
  }
  try {
    // Refused: walk again, naming fields, for the message.
    checkMessage(bytes, 0, bytes.length, rule, 0, '', 0);
  } catch (err) {
    if (err instanceof WireError) return err.message;
    throw err;
  }
  throw new Error('wire check: the naming pass accepted what the fast pass refused');
}
