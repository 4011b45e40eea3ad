import type { FieldIssue } from '../errors/errors.js'
import type { TemplateComponentInput } from './template.schemas.js'
import type { TemplateComponentRecord, TemplateRecord } from './template.repository.js'

const MEDIA = new Set(['IMAGE', 'VIDEO', 'DOCUMENT'])

/** The placeholders of a template text: `{{1}}`, `{{2}}` (positional) or `{{name}}` (named), in order. */
export function placeholders(text: string | undefined): string[] {
  const found: string[] = []
  for (const [, key] of (text ?? '').matchAll(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g))
    if (!found.includes(key)) found.push(key)
  return found
}

const describe = (keys: string[]) => keys.map((k) => `{{${k}}}`).join(', ')

/**
 * Checks a template send against the synced template, before anyone is contacted, so that a typo
 * fails once with the exact field instead of once per recipient at Meta (132000, 132012…).
 * Returns the problems; none means the request fits.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates
 */
export function checkTemplateRequest(
  template: TemplateRecord,
  request: { components: TemplateComponentInput[] },
): FieldIssue[] {
  const issues: FieldIssue[] = []
  if (template.status !== 'APPROVED') {
    issues.push({
      path: 'templateName',
      message: `template ${template.name} (${template.language}) is ${template.status}, not APPROVED`,
    })
    return issues
  }
  const named = template.parameterFormat === 'NAMED'
  const part = (type: string) => template.components.find((c) => c.type.toUpperCase() === type)
  const given = (type: 'header' | 'body') => {
    const index = request.components.findIndex((c) => c.type === type)
    return { index, component: index >= 0 ? request.components[index] : undefined }
  }

  checkTextParameters('body', part('BODY'), given('body'), named, issues)

  const header = part('HEADER')
  const format = (header?.format ?? 'TEXT').toUpperCase()
  const requestHeader = given('header')
  if (header && MEDIA.has(format)) {
    const expected = format.toLowerCase()
    const params = requestHeader.component?.parameters ?? []
    if (!requestHeader.component || params.length !== 1) {
      issues.push({
        path: requestHeader.component ? `components[${requestHeader.index}].parameters` : 'components',
        message: `the template's header is ${format}: send one ${expected} parameter with a link`,
      })
    } else if (params[0].type !== expected) {
      issues.push({
        path: `components[${requestHeader.index}].parameters[0].type`,
        message: `must be ${expected}: the template's header is ${format}`,
      })
    }
  } else {
    checkTextParameters('header', header, requestHeader, named, issues)
  }

  const buttons = part('BUTTONS')?.buttons ?? []
  request.components.forEach((component, i) => {
    if (component.type !== 'button') return
    const button = buttons[Number(component.index)]
    if (!button) {
      issues.push({ path: `components[${i}].index`, message: `the template has no button at index ${component.index}` })
      return
    }
    const kind = button.type.toUpperCase()
    const wanted = component.sub_type === 'url' ? 'URL' : component.sub_type === 'quick_reply' ? 'QUICK_REPLY' : null
    if (wanted && kind !== wanted) {
      issues.push({
        path: `components[${i}].sub_type`,
        message: `button ${component.index} is ${kind}, not ${wanted}`,
      })
    } else if (kind === 'URL' && placeholders(button.url).length === 0) {
      issues.push({
        path: `components[${i}]`,
        message: `button ${component.index} has a fixed URL and takes no parameter`,
      })
    }
  })
  return issues
}

function checkTextParameters(
  type: 'header' | 'body',
  templatePart: TemplateComponentRecord | undefined,
  given: { index: number; component: TemplateComponentInput | undefined },
  named: boolean,
  issues: FieldIssue[],
): void {
  const keys = placeholders(templatePart?.text)
  const params = given.component?.parameters ?? []
  if (keys.length === 0) {
    if (given.component && params.length > 0) {
      issues.push({
        path: `components[${given.index}].parameters`,
        message: `the template's ${type} takes no parameters, got ${params.length}`,
      })
    }
    return
  }
  if (!given.component) {
    issues.push({
      path: 'components',
      message: `the template's ${type} needs ${keys.length} parameter${keys.length > 1 ? 's' : ''} (${describe(keys)}): add a ${type} component`,
    })
    return
  }
  if (params.length !== keys.length) {
    issues.push({
      path: `components[${given.index}].parameters`,
      message: `the template's ${type} has ${keys.length} placeholder${keys.length > 1 ? 's' : ''} (${describe(keys)}), got ${params.length} parameter${params.length === 1 ? '' : 's'}`,
    })
    return
  }
  params.forEach((param, j) => {
    if (param.type !== 'text') {
      issues.push({ path: `components[${given.index}].parameters[${j}].type`, message: `must be text in a ${type}` })
    } else if (named && !keys.includes(param.parameter_name ?? '')) {
      issues.push({
        path: `components[${given.index}].parameters[${j}].parameter_name`,
        message: `must name one of the template's placeholders: ${keys.join(', ')}`,
      })
    }
  })
}
