import { Arg, Ctx, Query, Resolver } from 'type-graphql'
import type { GraphQLContext } from '../graphql/context.js'
import type { TemplateRecord } from './template.repository.js'
import type { TemplateService } from './template.service.js'
import { Template } from './template.type.js'

@Resolver(() => Template)
export class TemplateResolver {
  constructor(private readonly service: TemplateService) {}

  @Query(() => [Template], { description: 'Templates from the database; refresh: true syncs from Meta first.' })
  templates(
    @Arg('refresh', () => Boolean, { defaultValue: false }) refresh: boolean,
    @Arg('status', () => String, { nullable: true, description: 'e.g. APPROVED' }) status?: string | null,
    @Arg('language', () => String, { nullable: true, description: 'e.g. es' }) language?: string | null,
    @Arg('category', () => String, { nullable: true, description: 'e.g. UTILITY' }) category?: string | null,
    @Arg('name', () => String, { nullable: true }) name?: string | null,
    @Ctx() ctx?: GraphQLContext,
  ): Promise<TemplateRecord[]> {
    return this.service.list(
      {
        refresh,
        status: status ?? undefined,
        language: language ?? undefined,
        category: category ?? undefined,
        name: name ?? undefined,
      },
      ctx!.principal.phoneNumberIds,
    )
  }
}
