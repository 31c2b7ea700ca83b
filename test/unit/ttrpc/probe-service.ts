// A small protobuf-es service built at run time (no generated code needed), shaped like a
// generated GenService so typed registration is exercised exactly as the shim uses it.
import { create, createFileRegistry, type DescFile } from '@bufbuild/protobuf';
import type { GenService } from '@bufbuild/protobuf/codegenv2';
import {
  EmptySchema,
  FileDescriptorProtoSchema,
  file_google_protobuf_empty,
  file_google_protobuf_wrappers,
  StringValueSchema,
} from '@bufbuild/protobuf/wkt';

const fileProto = create(FileDescriptorProtoSchema, {
  name: 'ttrpc/probe.proto',
  package: 'ttrpc.probe.v1',
  syntax: 'proto3',
  dependency: ['google/protobuf/wrappers.proto', 'google/protobuf/empty.proto'],
  service: [
    {
      name: 'Probe',
      method: [
        { name: 'Echo', inputType: '.google.protobuf.StringValue', outputType: '.google.protobuf.StringValue' },
        { name: 'ResizePty', inputType: '.google.protobuf.StringValue', outputType: '.google.protobuf.Empty' },
        { name: 'Missing', inputType: '.google.protobuf.Empty', outputType: '.google.protobuf.Empty' },
        { name: 'Stream', inputType: '.google.protobuf.Empty', outputType: '.google.protobuf.Empty', serverStreaming: true },
      ],
    },
  ],
});

const deps: Record<string, DescFile> = {
  'google/protobuf/wrappers.proto': file_google_protobuf_wrappers,
  'google/protobuf/empty.proto': file_google_protobuf_empty,
};

const registry = createFileRegistry(fileProto, (name) => deps[name]);

/** `ttrpc.probe.v1.Probe`, typed like protoc-gen-es output. */
export const Probe = registry.getService('ttrpc.probe.v1.Probe') as unknown as GenService<{
  echo: { methodKind: 'unary'; input: typeof StringValueSchema; output: typeof StringValueSchema };
  resizePty: { methodKind: 'unary'; input: typeof StringValueSchema; output: typeof EmptySchema };
  missing: { methodKind: 'unary'; input: typeof EmptySchema; output: typeof EmptySchema };
  stream: { methodKind: 'server_streaming'; input: typeof EmptySchema; output: typeof EmptySchema };
}>;

export const PROBE = 'ttrpc.probe.v1.Probe';
