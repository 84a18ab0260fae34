// Chinese messages for the API's stable error codes; anything else falls back to the API's own message.
const messages: Record<string, string> = {
  'unauthenticated': '登录已失效，请重新登录',
  'session-invalid': '登录已失效，请重新登录',
  'phone-invalid': '请输入正确的手机号码',
  'sms-code-invalid': '验证码错误',
  'sms-code-expired': '验证码已过期，请重新获取',
  'sms-code-wrong': '验证码错误',
  'sms-code-locked': '验证码错误次数过多，请稍后再试',
  'sms-code-too-soon': '发送太频繁，请稍后再试',
  'sms-rate-limited': '发送太频繁，请稍后再试',
  'login-failed': '手机号或密码错误',
  'password-wrong': '手机号或密码错误',
  'password-not-set': '尚未设置登录密码，请用验证码登录',
  'password-weak': '密码须含数字、大写字母和小写字母，至少8位',
  'passwords-differ': '两次输入的密码不一致',
  'password-mismatch': '两次输入的密码不一致',
  'name-invalid': '请输入正确的姓名',
  'id-number-invalid': '请输入正确的身份证号码',
  'id-number-taken': '该身份证号码已被其他账号认证',
  'consent-required': '请阅读并同意个人信息授权',
  'identity-mismatch': '姓名与身份证号码不一致',
  'real-name-required': '请先完成实名认证',
  'real-name-locked': '认证失败次数过多，请明天再试',
  'already-verified': '已完成实名认证',
  'channel-not-found': '未找到该渠道',
  'channel-qr-invalid': '二维码无效',
  'enterprise-not-found': '未找到该企业，请输入完整的企业名称',
  'registry-not-found': '工商信息中未查到该企业，请输入完整的企业名称',
  'enterprise-already-verified': '该企业已在平台认证，请申请加入',
  'legal-rep-mismatch': '法人身份证号码与工商登记不一致',
  'agreement-required': '请勾选并同意协议',
  'legal-rep-phone-unchanged': '该手机号与当前法人手机号相同',
  'file-required': '请上传营业执照',
  'authorization-link-expired': '签署链接已过期，请联系经办人重新发送',
  'authorization-link-revoked': '签署链接已失效，请使用最新的链接',
  'authorization-link-not-found': '签署链接无效',
  'authorization-link-used': '该链接已完成签署',
  'liveness-required': '请先完成人脸校验',
  'liveness-failed': '人脸校验未通过，请重试',
  'liveness-pending': '人脸校验尚未完成',
  'signature-not-found': '请选择签名',
  'transfer-amount-wrong': '打款金额不正确',
  'member-not-found': '未找到该成员',
  'already-member': '您已是该企业成员或已提交申请',
  'not-admin': '只有企业管理员可以操作',
  'forbidden': '没有权限进行此操作',
  'last-admin': '不能移除最后一位管理员',
  'order-expired': '订单已过期，请重新下单',
  'order-not-payable': '订单已关闭，请重新下单',
  'order-already-paid': '订单已支付',
  'invoice-exists': '该订单已开过发票',
  'tax-id-invalid': '请输入正确的纳税人识别号',
  'email-invalid': '请输入正确的邮箱',
  'title-invalid': '请输入发票抬头',
  'rate-limited': '操作太频繁，请稍后再试',
  'network': '网络异常，请检查网络后重试',
}

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string, public details?: Record<string, unknown>) {
    super(message)
  }
}

// zh turns any error into a sentence for a person.
export function zh(e: unknown): string {
  if (e instanceof ApiError) {
    if (messages[e.code]) return messages[e.code]
    if (e.status === 429) return '操作太频繁，请稍后再试'
    if (e.status >= 500) return '服务暂时不可用，请稍后再试'
    return e.message || '操作失败'
  }
  if (e instanceof Error) return e.message
  return '操作失败'
}
