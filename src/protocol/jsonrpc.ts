/** JSON-RPC 2.0 envelopes and framing: one JSON message per line, UTF-8. */
import type { ErrorDetail } from './errors.js';

export const JSONRPC_VERSION = '2.0';
/** A connection sending a longer line is answered with MessageTooLarge and closed. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/**
 * What one client may hold of the daemon (each is documented in docs/rpc.md). A connection that has
 * not authenticated within the time limit is answered with AuthenticationTimeout and closed; one
 * beyond the connection limit with TooManyConnections. Past the unsent-bytes bound, or with as many
 * requests running as the in-flight bound, the daemon reads no more from that connection until its
 * replies have been read: a client that sends without reading cannot make the daemon buffer replies.
 */
export const CONNECTION_LIMITS = {
  authenticationTimeoutMs: 10_000,
  maxConnections: 64,
  maxUnsentBytes: 1024 * 1024,
  maxRequestsInFlight: 16,
} as const;

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
