// The entry GraphQL Code Generator loads (see codegen.yml): the schema exactly as the code builds it.
import { getSchema } from './schema.js'

export default getSchema()
