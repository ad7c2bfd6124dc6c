// Typed errors for Koji hub faults and for client-side failures of a Koji call.
//
// The fault classes mirror koji/__init__.py (1.35): same names, same codes, same inheritance
// (e.g. AuthExpired is an AuthError, CallbackError a PluginError), so callers can catch a
// family with `instanceof`. faultString is kept verbatim.

import { KilnError } from '../util/errors.js';
import type { XmlRpcStruct } from './xmlrpc.js';

/** Context of the call that failed, for messages. */
export interface KojiCallContext {
  hub?: string;
  method?: string;
}

function prefix(ctx: KojiCallContext): string {
  const parts: string[] = [];
  if (ctx.hub) parts.push(`Koji hub ${ctx.hub}`);
  if (ctx.method) parts.push(`call ${ctx.method}`);
  return parts.length ? parts.join(' ') + ': ' : '';
}

/**
 * A fault returned by the hub. Code 1 (or any unknown code) is a plain KojiFault; Koji's own
 * codes map to the subclasses below.
 */
export class KojiFault extends KilnError {
  override name = 'KojiFault';
  /** Koji's class name for this fault code ("GenericError", "AuthExpired"...; "Fault" if unknown). */
  readonly kojiName: string;
  constructor(
    readonly faultCode: number,
    readonly faultString: string,
    readonly context: KojiCallContext = {},
    readonly extra: XmlRpcStruct = {},
  ) {
    const kojiName = FAULT_NAMES.get(faultCode) ?? 'Fault';
    super(`${prefix(context)}${faultString} (fault ${faultCode} ${kojiName})`);
    this.kojiName = kojiName;
    this.name = kojiName === 'Fault' ? 'KojiFault' : `Koji${kojiName}`;
  }
}

// Declared as a table so code, name and parent stay side by side and are easy to check
// against koji/__init__.py.
export class GenericError extends KojiFault {}
export class LockError extends GenericError {}
export class AuthError extends GenericError {}
export class TagError extends GenericError {}
export class ActionNotAllowed extends GenericError {}
export class BuildError extends GenericError {}
export class AuthLockError extends AuthError {}
export class AuthExpired extends AuthError {}
export class SequenceError extends AuthError {}
export class RetryError extends AuthError {}
export class PreBuildError extends BuildError {}
export class PostBuildError extends BuildError {}
export class BuildrootError extends BuildError {}
export class FunctionDeprecated extends GenericError {}
export class ServerOffline extends GenericError {}
export class LiveCDError extends GenericError {}
export class PluginError extends GenericError {}
export class CallbackError extends PluginError {}
export class ApplianceError extends GenericError {}
export class ParameterError extends GenericError {}
export class ImportError extends GenericError {}
export class ConfigurationError extends GenericError {}
export class LiveMediaError extends GenericError {}
export class GSSAPIAuthError extends AuthError {}
export class NameValidationError extends GenericError {}

type FaultClass = new (code: number, str: string, ctx?: KojiCallContext, extra?: XmlRpcStruct) => KojiFault;

/** Koji fault code -> [Koji class name, our class]. Codes verified against koji 1.35.3. */
export const FAULT_CLASSES: ReadonlyMap<number, [string, FaultClass]> = new Map<number, [string, FaultClass]>([
  [1000, ['GenericError', GenericError]],
  [1001, ['LockError', LockError]],
  [1002, ['AuthError', AuthError]],
  [1003, ['TagError', TagError]],
  [1004, ['ActionNotAllowed', ActionNotAllowed]],
  [1005, ['BuildError', BuildError]],
  [1006, ['AuthLockError', AuthLockError]],
  [1007, ['AuthExpired', AuthExpired]],
  [1008, ['SequenceError', SequenceError]],
  [1009, ['RetryError', RetryError]],
  [1010, ['PreBuildError', PreBuildError]],
  [1011, ['PostBuildError', PostBuildError]],
  [1012, ['BuildrootError', BuildrootError]],
  [1013, ['FunctionDeprecated', FunctionDeprecated]],
  [1014, ['ServerOffline', ServerOffline]],
  [1015, ['LiveCDError', LiveCDError]],
  [1016, ['PluginError', PluginError]],
  [1017, ['CallbackError', CallbackError]],
  [1018, ['ApplianceError', ApplianceError]],
  [1019, ['ParameterError', ParameterError]],
  [1020, ['ImportError', ImportError]],
  [1021, ['ConfigurationError', ConfigurationError]],
  [1022, ['LiveMediaError', LiveMediaError]],
  [1023, ['GSSAPIAuthError', GSSAPIAuthError]],
  [1024, ['NameValidationError', NameValidationError]],
]);

const FAULT_NAMES = new Map<number, string>([...FAULT_CLASSES].map(([code, [name]]) => [code, name]));

/** Koji class name -> fault code (for the build host turning a failure into host.failTask). */
export const FAULT_CODES: ReadonlyMap<string, number> = new Map([...FAULT_CLASSES].map(([code, [name]]) => [name, code]));

/** Turn a decoded fault into the matching typed error. */
export function faultToError(
  faultCode: number,
  faultString: string,
  context: KojiCallContext = {},
  extra: XmlRpcStruct = {},
): KojiFault {
  const entry = FAULT_CLASSES.get(faultCode);
  if (entry) return new entry[1](faultCode, faultString, context, extra);
  return new KojiFault(faultCode, faultString, context, extra);
}

// ---------------------------------------------------------------------------------------------
// client-side failures (no fault from the hub)

/**
 * The hub could not be reached or the HTTP exchange failed. `sent` tells whether the request
 * may have reached the hub (false only when the connection was never established).
 */
export class KojiTransportError extends KilnError {
  override name = 'KojiTransportError';
  constructor(
    message: string,
    readonly context: KojiCallContext,
    readonly sent: boolean,
    readonly httpStatus?: number,
    override readonly cause?: unknown,
  ) {
    super(`${prefix(context)}${message}`);
  }
}

/**
 * A call that is not safe to repeat failed after its request may have reached the hub: the hub
 * may or may not have carried it out. We never resend such a call on our own; the caller must
 * check the hub's state (e.g. list tasks) before deciding what to do.
 */
export class KojiCallIndeterminateError extends KilnError {
  override name = 'KojiCallIndeterminateError';
  constructor(
    readonly context: KojiCallContext,
    override readonly cause: unknown,
  ) {
    super(
      `${prefix(context)}the connection failed after the request was sent (${(cause as Error)?.message ?? String(cause)}); ` +
        `the call may or may not have happened on the hub, and it was not repeated because ${context.method ?? 'it'} is not safe to repeat`,
    );
  }
}

/** The hub answered with something that is not a valid XML-RPC response. */
export class KojiProtocolError extends KilnError {
  override name = 'KojiProtocolError';
  constructor(message: string, readonly context: KojiCallContext) {
    super(`${prefix(context)}${message}`);
  }
}

/** An upload did not arrive intact (size or adler32 mismatch, hub lost the file...). */
export class KojiUploadError extends KilnError {
  override name = 'KojiUploadError';
}
