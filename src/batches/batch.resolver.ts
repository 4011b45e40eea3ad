import { Arg, Ctx, FieldResolver, Int, Query, Resolver, Root } from 'type-graphql'
import { pageArgs, toConnection } from '../shared/connection.type.js'
import type { GraphQLContext } from '../graphql/context.js'
import type { BatchProgress, BatchRecord } from './batch.repository.js'
import type { BatchService } from './batch.service.js'
import {
  TemplateBatch,
  TemplateBatchConnection,
  TemplateBatchProgress,
  TemplateBatchRecipientConnection,
} from './batch.type.js'

@Resolver(() => TemplateBatch)
export class BatchResolver {
  constructor(private readonly batches: BatchService) {}

  @Query(() => TemplateBatch, { description: 'One template fan-out. NOT_FOUND for an unknown id.' })
  templateBatch(@Arg('id', () => Int) id: number, @Ctx() ctx: GraphQLContext): Promise<BatchRecord> {
    return this.batches.get(id, ctx.principal.phoneNumberIds)
  }

  @Query(() => TemplateBatchConnection, { description: 'Template fan-outs, newest first.' })
  async templateBatches(
    @Arg('first', () => Int, pageArgs.first) first?: number | null,
    @Arg('after', () => String, pageArgs.after) after?: string | null,
    @Ctx() ctx?: GraphQLContext,
  ) {
    return toConnection(await this.batches.page({ first, after }, ctx!.principal.phoneNumberIds))
  }

  @FieldResolver(() => TemplateBatchProgress, { description: 'Recipients per message state, now.' })
  progress(@Root() batch: BatchRecord, @Ctx() ctx: GraphQLContext): Promise<BatchProgress> {
    return ctx.batchProgress.load(batch.id)
  }

  @FieldResolver(() => TemplateBatchRecipientConnection, { description: 'Recipients in request order.' })
  async recipients(
    @Root() batch: BatchRecord,
    @Arg('first', () => Int, pageArgs.first) first?: number | null,
    @Arg('after', () => String, pageArgs.after) after?: string | null,
  ) {
    return toConnection(await this.batches.recipients(batch, { first, after }))
  }
}
