/**
 * ttrpc for Node.js: containerd's framed RPC over unix sockets, wire-compatible with Go's ttrpc
 * 1.1.1 (unary calls). Usable on its own; it imports nothing else of this project.
 */
export { Code, codeName } from './code.js';
export { TtrpcError, type StatusDetail } from './error.js';
export { HEADER_LENGTH, MAX_MESSAGE_LENGTH, MessageType, encodeFrame, readHeader, writeHeader, FrameReader, type FrameHeader, type FrameSink } from './frame.js';
export { decodeRequest, decodeResponse, encodeRequestFrame, encodeSuccessFrame, encodeErrorFrame, type KeyValuePair, type RequestMessage, type ResponseMessage, type RequestFields } from './messages.js';
export { Metadata, type MetadataInit } from './metadata.js';
export type { CallContext, RawHandler, UnaryHandler, ServiceImpl } from './service.js';
export { TtrpcServer, type TtrpcServerOptions, type PeerCredentials } from './server.js';
export { TtrpcClient, type CallOptions, type ConnectOptions } from './client.js';
export { WireFormatError } from './wire.js';
export { isThenable } from './server-connection.js';
export { decodeMessage, encodeMessage, handOvers, isCompiled } from './proto-codec.js';
