/**
 * The dashboard benchmark's data set, shared by its seed (bench/dashboard-seed.ts, a child process)
 * and its orchestrator (bench/dashboard.ts). See the seed for the shape.
 */
export const DASHBOARD_SEED = {
  /** Conversations with the most recent activity, 110 messages each. */
  hot: 50,
  hotMessages: 110,
  /** Reaction rows in each hot conversation (to messages of its second page). */
  hotReactions: 3,
  /** Ranks below this have the same layout at every size. */
  recent: 500,
  recentMessages: 5,
  /** In one message of every conversation with rank % 10 = 3. */
  searchWord: 'garantía',
}

export interface DashboardSeedResult {
  seconds: number
  /** Conversation ids of ranks 0..hot-1, newest first. */
  hot: number[]
  /** Conversations the filtered read matches (the search word, and a last message delivered). */
  filteredMatches: number
  messages: number
  conversations: number
}
