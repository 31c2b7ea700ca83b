/**
 * The stdio layer: how a process's stdin/stdout/stderr reach the client (docs/stdio.md).
 * PipeIO for pipes, `file://` and `binary://`; ConsoleIO for a pty.
 */
export { PipeIO, type RuntimeStdio } from './pipe-io.js';
export { ConsoleIO } from './console-io.js';
export { StdioError, type StdioErrorKind } from './errors.js';
export { stdioMode, type StdioConfig, type StdioMode, type StdioOptions } from './config.js';
export { DEFAULT_OPEN_TIMEOUT_MS } from './fifo-open.js';
