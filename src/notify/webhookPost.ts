/**
 * One try of one webhook message: a signed POST with a time limit, and what the answer means for the
 * message (accepted, refused for good, or to be tried again).
 */
import type { DeliveryResult } from './channel.js';
import { webhookHeaders } from './webhookSignature.js';

const USER_AGENT = 'AzureStackBackup-Webhook/1.0';
/** How much of a receiver's answer is kept for Test-AzsBackupNotificationTarget and the log. */
const ANSWER_CHARS = 200;

export type Verdict = 'accepted' | 'rejected' | 'retry';

export interface PostAnswer extends DeliveryResult {
  verdict: Verdict;
}

export interface PostRequest {
  uri: string;
  id: string;
  body: string;
  secret: string | null;
  timeoutMs: number;
  /** Aborts the try when the daemon stops (the message stays queued). */
  signal: AbortSignal;
}

export async function postWebhook(request: PostRequest): Promise<PostAnswer> {
  // The timestamp is the real time of this try (receivers refuse one more than 5 minutes off).
  const timestampSeconds = Math.floor(Date.now() / 1000);
  let response: Response;
  try {
    response = await fetch(request.uri, {
      method: 'POST',
      body: request.body,
      // A redirect is answered, not followed: the message goes only where the operator pointed it.
      redirect: 'manual',
      headers: {
        ...webhookHeaders(request.id, timestampSeconds, request.body, request.secret),
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
      },
      signal: AbortSignal.any([request.signal, AbortSignal.timeout(request.timeoutMs)]),
    });
  } catch (error) {
    return { verdict: 'retry', Succeeded: false, StatusCode: null, Response: failureText(error, request) };
  }
  const answer = (await response.text().catch(() => '')).slice(0, ANSWER_CHARS);
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  return {
    verdict: verdictOf(response.status),
    Succeeded: response.ok,
    StatusCode: response.status,
    Response: answer ? `${status}: ${answer}` : status,
  };
}

/** 2xx accepted; 429 and 5xx are a busy or broken receiver, worth another try; anything else is final. */
export function verdictOf(status: number): Verdict {
  if (status >= 200 && status < 300) return 'accepted';
  if (status === 429 || status >= 500) return 'retry';
  return 'rejected';
}

/** Why no answer came, without the URL (it may hold a token). */
function failureText(error: unknown, request: PostRequest): string {
  if (error instanceof Error && error.name === 'TimeoutError')
    return `no answer within ${request.timeoutMs / 1000} s`;
  if (error instanceof Error && error.name === 'AbortError') return 'stopped with the daemon';
  const code = (error as { cause?: { code?: string } }).cause?.code;
  return code
    ? `connection failed (${code})`
    : `request failed (${String((error as Error).message ?? error)})`;
}
