import { type ClassType, Field, Int, ObjectType } from 'type-graphql'
import type { Page } from './pagination.js'

@ObjectType({ simpleResolvers: true, description: 'Relay-style page information.' })
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean

  @Field(() => String, { nullable: true, description: 'Pass as `after` for the next page.' })
  endCursor!: string | null
}

/** A Relay-style connection type (`edges { node cursor }`, `pageInfo`, `totalCount`) for `node`. */
export function Connection<T extends object>(node: ClassType<T>, name: string) {
  @ObjectType(`${name}Edge`, { simpleResolvers: true })
  class Edge {
    @Field(() => node)
    node!: T

    @Field(() => String)
    cursor!: string
  }

  @ObjectType({ simpleResolvers: true })
  abstract class ConnectionType {
    @Field(() => [Edge])
    edges!: Edge[]

    @Field(() => PageInfo)
    pageInfo!: PageInfo

    // Not a simple field: its value is a promise, and compiled execution (graphql-jit) awaits only
    // what a resolver returns.
    @Field(() => Int, { description: 'Matching items in all pages.', simple: false })
    totalCount!: number | Promise<number>
  }
  return ConnectionType
}

/** An edge of a page: its cursor is made when a query asks for it (most never do). */
class PageEdge<T> {
  constructor(
    readonly node: T,
    private readonly page: Page<T>,
    private readonly index: number,
  ) {}

  get cursor(): string {
    return this.page.cursor(this.index)
  }
}

/** The connection shape of a page from a service. */
export function toConnection<T>(page: Page<T>) {
  return {
    edges: page.nodes.map((node, i) => new PageEdge(node, page, i)),
    pageInfo: {
      hasNextPage: page.hasNextPage,
      get endCursor() {
        return page.endCursor
      },
    },
    // A getter: the count runs only when a query selects totalCount.
    get totalCount() {
      return page.totalCount()
    },
  }
}

/** The `first` / `after` arguments of every connection field. */
export const pageArgs = {
  first: { nullable: true, description: 'Page size: 20 by default, at most 100.' },
  after: { nullable: true, description: 'The endCursor of the previous page.' },
} as const
