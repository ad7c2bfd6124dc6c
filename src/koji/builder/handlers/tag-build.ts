// kojid's TagBuildTask: tag a build into a tag with host.tagBuild, then tell the hub (which
// sends the tag notification) with host.tagNotification whether it worked.
import { KojiFault } from '../../faults.js';
import { kwargs, type XmlRpcValue } from '../../xmlrpc.js';
import type { HandlerSpec, TaskContext } from '../task.js';
import { faultFor } from '../task.js';
import { asInt } from './common.js';

async function tagBuild(ctx: TaskContext, params: XmlRpcValue[]): Promise<XmlRpcValue> {
  const [tagV, buildV, forceV = false, fromtagV = null, ignoreSuccessV = false] = params;
  const tagId = asInt(tagV ?? null, 'tagBuild tag');
  const buildId = asInt(buildV ?? null, 'tagBuild build');
  const force = Boolean(forceV);
  const fromtag = fromtagV ?? null;
  const ignoreSuccess = Boolean(ignoreSuccessV);
  try {
    // the hub runs the tag policy and package-list checks itself
    await ctx.session.call('host.tagBuild', ctx.id, tagId, buildId, kwargs({ force, fromtag }));
  } catch (e) {
    await notify(ctx, [false, tagId, fromtag, buildId, null, ignoreSuccess, faultFor(e).faultString]);
    throw e;
  }
  // the hub decides (ignore_success) whether a success is worth a message
  await notify(ctx, ignoreSuccess ? [true, tagId, fromtag, buildId, null, true] : [true, tagId, fromtag, buildId, null]);
  return null;
}

async function notify(ctx: TaskContext, args: XmlRpcValue[]): Promise<void> {
  // the task's own result matters more than the notification
  try {
    await ctx.session.call('host.tagNotification', ...args);
  } catch (e) {
    ctx.log(`host.tagNotification failed: ${e instanceof KojiFault ? e.faultString : (e as Error).message}`);
  }
}

export const tagBuildSpec: HandlerSpec = { handler: tagBuild, weight: 0.1 };
