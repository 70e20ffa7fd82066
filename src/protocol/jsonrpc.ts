/** JSON-RPC 2.0 envelopes and framing: one JSON message per line, UTF-8. */
import type { ErrorDetail } from './errors.js';

export const JSONRPC_VERSION = '2.0';
/** A connection sending a longer line is answered with MessageTooLarge and closed. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

export type RequestId = string | number;

export interface RpcRequest {
  jsonrpc: '2.0';
  id?: RequestId;
  method: string;
  params?: unknown;
}

export interface RpcErrorObject {
  code: number;
  message: string;
  data?: ErrorDetail;
}

export type RpcResponse =
  | { jsonrpc: '2.0'; id: RequestId | null; result: unknown }
  | { jsonrpc: '2.0'; id: RequestId | null; error: RpcErrorObject };

/** Notifications the daemon sends on a connection while a long request of that connection runs. */
export const Notifications = {
  progress: 'job.progress',
} as const;

export interface ProgressNotification {
  requestId: RequestId;
  activity: string;
  status: string;
  percentComplete: number;
  roleName?: string;
}
