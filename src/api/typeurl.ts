/**
 * google.protobuf.Any the way containerd uses it, and the timestamps its Go code writes.
 *
 * containerd (typeurl 1.0.2) names a packed message by its bare full name, e.g.
 * `containerd.events.TaskExit` or `containerd.runc.v1.Options`, with no
 * `type.googleapis.com/` prefix, and its consumers look names up verbatim (events.md §3,
 * shim-binary.md). protobuf-es's own anyPack adds the prefix, so packing goes through here.
 * When reading, a prefix some other client added is tolerated: only the part after the last
 * `/` names the type.
 */
import {
  create,
  createRegistry,
  fromBinary,
  isMessage,
  toBinary,
  type DescMessage,
  type Message,
  type MessageInitShape,
  type MessageShape,
  type Registry,
} from '@bufbuild/protobuf';
import { AnySchema, TimestampSchema, type Any, type Timestamp } from '@bufbuild/protobuf/wkt';
import { file_containerd_cgroups_v1_metrics } from './containerd/cgroups/v1/metrics_pb.js';
import { file_containerd_cgroups_v2_metrics } from './containerd/cgroups/v2/metrics_pb.js';
import { file_containerd_events_task } from './containerd/events/task_pb.js';
import { file_containerd_runc_v1_options } from './containerd/runc/v1/options_pb.js';
import { file_containerd_runtimeoptions_v1_api } from './containerd/runtimeoptions/v1/api_pb.js';
import { file_containerd_services_ttrpc_events_v1_events } from './containerd/services/ttrpc/events/v1/events_pb.js';
import { file_containerd_task_v2_shim } from './containerd/task/v2/shim_pb.js';
import { file_containerd_types_mount } from './containerd/types/mount_pb.js';
import { file_containerd_types_task_task } from './containerd/types/task/task_pb.js';

/** The prefix protobuf's reference libraries put before type names; containerd does not. */
export const GOOGLE_TYPE_URL_PREFIX = 'type.googleapis.com/';

/** Thrown when an Any names a message type the registry does not know. */
export class UnknownTypeUrlError extends Error {
  /** The type URL exactly as it arrived. */
  readonly typeUrl: string;

  /** @param typeUrl the unresolvable type URL, as received */
  constructor(typeUrl: string) {
    // The reference's wording (task-api.md §2.3), so that users see the same text.
    super(`type with url ${typeUrl}: not found`);
    this.name = 'UnknownTypeUrlError';
    this.typeUrl = typeUrl;
  }
}

/** Thrown when an Any holds a known message type other than the one the caller requires. */
export class TypeUrlMismatchError extends Error {
  /** The type URL exactly as it arrived. */
  readonly typeUrl: string;
  /** The full name of the message the caller wanted. */
  readonly expected: string;

  /**
   * @param typeUrl the type URL found in the Any
   * @param expected the full message name that was required
   */
  constructor(typeUrl: string, expected: string) {
    super(`type with url ${typeUrl}: expected ${expected}`);
    this.name = 'TypeUrlMismatchError';
    this.typeUrl = typeUrl;
    this.expected = expected;
  }
}

/** Every file of the task API, so that a registry can resolve all of its messages. */
export const apiFiles = [
  file_containerd_types_mount,
  file_containerd_types_task_task,
  file_containerd_task_v2_shim,
  file_containerd_events_task,
  file_containerd_services_ttrpc_events_v1_events,
  file_containerd_runc_v1_options,
  file_containerd_runtimeoptions_v1_api,
  file_containerd_cgroups_v1_metrics,
  file_containerd_cgroups_v2_metrics,
] as const;

/** A registry of every message and enum in the task API (events, options, metrics, requests). */
export const apiRegistry: Registry = createRegistry(...apiFiles);

/** The message name a type URL refers to: everything after the last `/` (or all of it). */
export function typeNameFromUrl(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

/** The type URL containerd uses for a message: its bare full name. */
export function typeUrlOf(schema: DescMessage): string {
  return schema.typeName;
}

/** True when the Any's type URL names `schema` (with or without a URL prefix). */
export function isAnyOf(any: Any, schema: DescMessage): boolean {
  return typeNameFromUrl(any.typeUrl) === schema.typeName;
}

/** Serializes a message or an initializer for one (protobuf-es's toBinary by default). */
export type MessageEncoder = <Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc> | MessageInitShape<Desc>) => Uint8Array;

const protobufEsEncoder: MessageEncoder = (schema, message) =>
  toBinary(schema, isMessage(message, schema) ? message : create(schema, message as MessageInitShape<typeof schema>));

/**
 * Packs a message, or an initializer for one, into an Any with containerd's bare type URL.
 * @param schema the message's generated schema (e.g. TaskExitSchema)
 * @param message a message of that schema, or the fields to create one from
 * @param encode how to serialize it (the shim passes ttrpc's generated codecs)
 */
export function packAny<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc> | MessageInitShape<Desc>,
  encode: MessageEncoder = protobufEsEncoder,
): Any {
  return create(AnySchema, { typeUrl: typeUrlOf(schema), value: encode(schema, message) });
}

/**
 * Decodes an Any into whatever message its type URL names.
 * @param any the packed value
 * @param registry where to look the type up; defaults to the task API's messages
 * @throws UnknownTypeUrlError when the registry has no message of that name
 */
export function unpackAny(any: Any, registry: Registry = apiRegistry): Message {
  const schema = registry.getMessage(typeNameFromUrl(any.typeUrl));
  if (!schema) throw new UnknownTypeUrlError(any.typeUrl);
  return fromBinary(schema, any.value);
}

/**
 * Decodes an Any that must hold one particular message type.
 * @param any the packed value
 * @param schema the required message type
 * @param registry used only to tell an unknown type URL from a different known one
 * @throws TypeUrlMismatchError when the Any holds another known type
 * @throws UnknownTypeUrlError when the type URL names no known type
 */
export function unpackAnyAs<Desc extends DescMessage>(
  any: Any,
  schema: Desc,
  registry: Registry = apiRegistry,
): MessageShape<Desc> {
  const name = typeNameFromUrl(any.typeUrl);
  if (name !== schema.typeName) {
    if (registry.getMessage(name)) throw new TypeUrlMismatchError(any.typeUrl, schema.typeName);
    throw new UnknownTypeUrlError(any.typeUrl);
  }
  return fromBinary(schema, any.value);
}

/** Seconds of Go's zero time.Time (0001-01-01T00:00:00Z) relative to the Unix epoch. */
export const GO_ZERO_TIME_SECONDS = -62135596800n;

/**
 * Go's zero time.Time as a Timestamp: what the reference sends in `exited_at` for a process
 * that has not exited (task-api.md §1.2). Frozen, because it is shared by every message
 * that embeds it.
 */
export const GO_ZERO_TIME: Timestamp = Object.freeze(create(TimestampSchema, { seconds: GO_ZERO_TIME_SECONDS, nanos: 0 }));

/** A Timestamp for a JavaScript Date (millisecond precision, as Date has). */
export function timestampFromDate(date: Date): Timestamp {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return create(TimestampSchema, { seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 });
}

/** True for an absent Timestamp or Go's zero time: both mean "never happened" to the daemon. */
export function isGoZeroTime(ts: Timestamp | undefined): boolean {
  return ts === undefined || (ts.seconds === GO_ZERO_TIME_SECONDS && ts.nanos === 0);
}

/** The Date of a Timestamp, or undefined for Go's zero time / an absent field. */
export function timestampToDate(ts: Timestamp | undefined): Date | undefined {
  if (ts === undefined || isGoZeroTime(ts)) return undefined;
  return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1_000_000));
}
