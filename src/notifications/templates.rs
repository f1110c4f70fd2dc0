//! Message texts, in the recipient's language (zh-CN by default, en).

/// A rendered message: subject, plain text and HTML alternatives.
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// An iCalendar object sent as `invite.ics` (text/calendar), for session invitations.
    pub ics: Option<String>,
    /// The message without greeting and signature, for the in-app feed and digests.
    pub summary: String,
    /// Where the message points, if anywhere.
    pub link: Option<String>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn render(
    subject: String,
    greeting: String,
    lines: Vec<String>,
    link: Option<(String, String)>,
) -> Mail {
    let summary = lines.join("\n");
    let target = link.as_ref().map(|(_, url)| url.clone());
    let mut text = format!("{greeting}\n\n");
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;font-size:16px\"><p>{}</p>",
        escape(&greeting)
    );
    for line in &lines {
        text.push_str(line);
        text.push_str("\n\n");
        html.push_str(&format!("<p>{}</p>", escape(line)));
    }
    if let Some((label, url)) = link {
        text.push_str(&format!("{label}: {url}\n\n"));
        html.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p><p>{}</p>",
            escape(&url),
            escape(&label),
            escape(&url)
        ));
    }
    text.push_str("— Yishi 议事厅\n");
    html.push_str("<p>— Yishi 议事厅</p></body></html>");
    Mail {
        subject,
        text,
        html,
        ics: None,
        summary,
        link: target,
    }
}

fn zh(language: &str) -> bool {
    language != "en"
}

pub fn verify_email(language: &str, name: &str, url: &str) -> Mail {
    if zh(language) {
        render(
            "请验证您的邮箱 · 议事厅".into(),
            format!("{name}，您好："),
            vec![
                "感谢注册议事厅。请打开下面的链接验证邮箱，链接 48 小时内有效，只能使用一次。"
                    .into(),
            ],
            Some(("验证邮箱".into(), url.into())),
        )
    } else {
        render(
            "Verify your email · Yishi".into(),
            format!("Hello {name},"),
            vec!["Thank you for registering with Yishi. Open the link below to verify your email. It works once, within 48 hours.".into()],
            Some(("Verify email".into(), url.into())),
        )
    }
}

pub fn already_registered(language: &str, name: &str, url: &str) -> Mail {
    if zh(language) {
        render(
            "有人尝试用您的邮箱注册 · 议事厅".into(),
            format!("{name}，您好："),
            vec!["有人尝试用这个邮箱再次注册议事厅。您已经有账号，直接登录即可；如忘记密码，可在登录页重设。如非本人操作，请忽略本邮件。".into()],
            Some(("登录".into(), url.into())),
        )
    } else {
        render(
            "Someone tried to register with your email · Yishi".into(),
            format!("Hello {name},"),
            vec!["Someone tried to register with this email again. You already have an account: sign in, or reset your password from the sign-in page. If this was not you, ignore this message.".into()],
            Some(("Sign in".into(), url.into())),
        )
    }
}

pub fn password_reset(language: &str, name: &str, url: &str) -> Mail {
    if zh(language) {
        render(
            "重设密码 · 议事厅".into(),
            format!("{name}，您好："),
            vec!["我们收到了重设密码的请求。链接 1 小时内有效，只能使用一次；重设后所有已登录的设备都会退出。如非本人操作，请忽略本邮件。".into()],
            Some(("重设密码".into(), url.into())),
        )
    } else {
        render(
            "Reset your password · Yishi".into(),
            format!("Hello {name},"),
            vec!["We received a request to reset your password. The link works once, within 1 hour; resetting signs you out everywhere. If this was not you, ignore this message.".into()],
            Some(("Reset password".into(), url.into())),
        )
    }
}

pub fn membership_decided(
    language: &str,
    name: &str,
    community: &str,
    verified: bool,
    reason: Option<&str>,
) -> Mail {
    let reason = reason.unwrap_or_default();
    if zh(language) {
        let line = if verified {
            format!("您加入「{community}」的申请已通过核实。")
        } else {
            format!("您加入「{community}」的申请未通过。理由：{reason}")
        };
        render(
            "社区加入申请结果 · 议事厅".into(),
            format!("{name}，您好："),
            vec![line],
            None,
        )
    } else {
        let line = if verified {
            format!("Your request to join {community} has been verified.")
        } else {
            format!("Your request to join {community} was declined. Reason: {reason}")
        };
        render(
            "Your community membership · Yishi".into(),
            format!("Hello {name},"),
            vec![line],
            None,
        )
    }
}

pub fn proposal_threshold_reached(language: &str, name: &str, title: &str, url: &str) -> Mail {
    if zh(language) {
        render(
            format!("您的提案已达到附议人数 · {title}"),
            format!("{name}，您好："),
            vec![format!(
                "您的提案「{title}」已获得足够的附议，进入居委会审核。"
            )],
            Some(("查看提案".into(), url.into())),
        )
    } else {
        render(
            format!("Your proposal reached its co-signatures · {title}"),
            format!("Hello {name},"),
            vec![format!(
                "Your proposal \"{title}\" has enough co-signatures and is now with the residents' committee."
            )],
            Some(("View the proposal".into(), url.into())),
        )
    }
}

/// A moderation decision, to the proposer; `decision` is the event name.
pub fn proposal_decision(
    language: &str,
    name: &str,
    title: &str,
    decision: &str,
    reason: Option<&str>,
    url: &str,
) -> Mail {
    let reason = reason.unwrap_or_default();
    if zh(language) {
        let line = match decision {
            "accepted" => format!("您的提案「{title}」已被居委会接受，将列入议程。"),
            "changes_requested" => {
                format!("居委会请您修改提案「{title}」后重新提交。理由：{reason}")
            }
            "merged" => format!(
                "您的提案「{title}」已与另一项相同议题的提案合并，附议一并转入。理由：{reason}"
            ),
            "rejected" => format!("您的提案「{title}」未被接受。理由：{reason}"),
            _ => format!("您的提案「{title}」已过附议期限，未达到附议人数。"),
        };
        render(
            format!("提案处理结果 · {title}"),
            format!("{name}，您好："),
            vec![line],
            Some(("查看提案".into(), url.into())),
        )
    } else {
        let line = match decision {
            "accepted" => format!(
                "The residents' committee accepted your proposal \"{title}\" for the agenda."
            ),
            "changes_requested" => format!(
                "The committee asks you to change \"{title}\" and resubmit it. Reason: {reason}"
            ),
            "merged" => format!(
                "Your proposal \"{title}\" was merged into another on the same matter; its co-signatures moved with it. Reason: {reason}"
            ),
            "rejected" => format!("Your proposal \"{title}\" was not accepted. Reason: {reason}"),
            _ => format!("Your proposal \"{title}\" did not reach its co-signatures in time."),
        };
        render(
            format!("Decision on your proposal · {title}"),
            format!("Hello {name},"),
            vec![line],
            Some(("View the proposal".into(), url.into())),
        )
    }
}

pub fn proposal_accepted_cosigner(language: &str, name: &str, title: &str, url: &str) -> Mail {
    if zh(language) {
        render(
            format!("您附议的提案已被接受 · {title}"),
            format!("{name}，您好："),
            vec![format!(
                "您附议的提案「{title}」已被居委会接受，将列入议程。"
            )],
            Some(("查看提案".into(), url.into())),
        )
    } else {
        render(
            format!("A proposal you co-signed was accepted · {title}"),
            format!("Hello {name},"),
            vec![format!(
                "The proposal \"{title}\" that you co-signed was accepted for the agenda."
            )],
            Some(("View the proposal".into(), url.into())),
        )
    }
}

/// A poll's result, to everyone in its electorate.
pub fn poll_result(
    language: &str,
    name: &str,
    question: &str,
    passed: bool,
    summary: &str,
    url: &str,
) -> Mail {
    if zh(language) {
        render(
            format!("表决结果 · {question}"),
            format!("{name}，您好："),
            vec![
                format!(
                    "「{question}」表决已结束，结果：{}。",
                    if passed { "通过" } else { "未通过" }
                ),
                summary.to_string(),
            ],
            Some(("查看结果".into(), url.into())),
        )
    } else {
        render(
            format!("Result · {question}"),
            format!("Hello {name},"),
            vec![
                format!(
                    "The vote on \"{question}\" has closed: {}.",
                    if passed { "passed" } else { "not passed" }
                ),
                summary.to_string(),
            ],
            Some(("See the result".into(), url.into())),
        )
    }
}

/// To an owner whose proxy has voted for them.
pub fn proxy_used(language: &str, name: &str, proxy: &str, question: &str, url: &str) -> Mail {
    if zh(language) {
        render(
            format!("受托人已代您投票 · {question}"),
            format!("{name}，您好："),
            vec![format!(
                "您委托的 {proxy} 已在「{question}」表决中代您投票。如非您本人授权，请立即联系居委会。"
            )],
            Some(("查看表决".into(), url.into())),
        )
    } else {
        render(
            format!("Your proxy has voted · {question}"),
            format!("Hello {name},"),
            vec![format!(
                "{proxy}, whom you authorised, has cast your ballot on \"{question}\". If you did not authorise this, contact the residents' committee at once."
            )],
            Some(("See the poll".into(), url.into())),
        )
    }
}

/// To a voter whose paper ballot was recorded and confirmed.
pub fn assisted_counted(
    language: &str,
    name: &str,
    question: &str,
    reference: &str,
    url: &str,
) -> Mail {
    if zh(language) {
        render(
            format!("您的纸质选票已计入 · {question}"),
            format!("{name}，您好："),
            vec![format!(
                "网格员已录入您在「{question}」表决中的纸质选票（编号 {reference}），并经第二人核对后计入。如非您本人投票，请立即联系居委会。"
            )],
            Some(("查看表决".into(), url.into())),
        )
    } else {
        render(
            format!("Your paper ballot was counted · {question}"),
            format!("Hello {name},"),
            vec![format!(
                "A grid worker recorded your paper ballot on \"{question}\" (reference {reference}); a second person confirmed it and it is counted. If you did not vote, contact the residents' committee at once."
            )],
            Some(("See the poll".into(), url.into())),
        )
    }
}

/// To followers of a resolution: the responsible party reported progress.
pub fn resolution_update(
    language: &str,
    name: &str,
    title: &str,
    organisation: &str,
    percent: i32,
    text: &str,
    url: &str,
) -> Mail {
    if zh(language) {
        render(
            format!("决议进展 · {title}"),
            format!("{name}，您好："),
            vec![
                format!("{organisation}更新了「{title}」的进展：已完成 {percent}%。"),
                text.to_string(),
            ],
            Some(("查看决议".into(), url.into())),
        )
    } else {
        render(
            format!("Progress · {title}"),
            format!("Hello {name},"),
            vec![
                format!("{organisation} reported progress on \"{title}\": {percent}% done."),
                text.to_string(),
            ],
            Some(("See the resolution".into(), url.into())),
        )
    }
}

/// To the responsible party and the committee: a resolution or one of its milestones is
/// past its deadline. `milestone` is `None` for the resolution itself.
pub fn resolution_overdue(
    language: &str,
    name: &str,
    title: &str,
    milestone: Option<&str>,
    deadline: &str,
    url: &str,
) -> Mail {
    if zh(language) {
        let what = match milestone {
            Some(m) => format!("决议「{title}」的节点「{m}」"),
            None => format!("决议「{title}」"),
        };
        render(
            format!("已逾期 · {title}"),
            format!("{name}，您好："),
            vec![format!(
                "{what}已超过期限（{deadline}）仍未完成。请尽快办理并更新进展。"
            )],
            Some(("查看决议".into(), url.into())),
        )
    } else {
        let what = match milestone {
            Some(m) => format!("The milestone \"{m}\" of the resolution \"{title}\""),
            None => format!("The resolution \"{title}\""),
        };
        render(
            format!("Overdue · {title}"),
            format!("Hello {name},"),
            vec![format!(
                "{what} is past its deadline ({deadline}) and not done. Please act and post an update."
            )],
            Some(("See the resolution".into(), url.into())),
        )
    }
}

/// To the resident who objected: the committee's written answer.
pub fn objection_answered(
    language: &str,
    name: &str,
    title: &str,
    upheld: bool,
    answer: &str,
    url: &str,
) -> Mail {
    if zh(language) {
        render(
            format!("异议答复 · {title}"),
            format!("{name}，您好："),
            vec![
                format!(
                    "您对决议「{title}」提出的异议，居委会的答复：{}。",
                    if upheld {
                        "异议成立"
                    } else {
                        "异议不成立"
                    }
                ),
                answer.to_string(),
            ],
            Some(("查看决议".into(), url.into())),
        )
    } else {
        render(
            format!("Your objection · {title}"),
            format!("Hello {name},"),
            vec![
                format!(
                    "The committee has answered your objection to \"{title}\": {}.",
                    if upheld { "upheld" } else { "dismissed" }
                ),
                answer.to_string(),
            ],
            Some(("See the resolution".into(), url.into())),
        )
    }
}

/// To the electorate: a vote has opened.
pub fn poll_opened(
    language: &str,
    name: &str,
    question: &str,
    closes: Option<&str>,
    url: &str,
) -> Mail {
    if zh(language) {
        let until = closes
            .map(|c| format!("投票截止：{c}。"))
            .unwrap_or_default();
        render(
            format!("表决开始 · {question}"),
            format!("{name}，您好："),
            vec![format!("「{question}」已开始表决，您在表决名单中。{until}")],
            Some(("去投票".into(), url.into())),
        )
    } else {
        let until = closes
            .map(|c| format!(" Voting closes {c}."))
            .unwrap_or_default();
        render(
            format!("Vote open · {question}"),
            format!("Hello {name},"),
            vec![format!(
                "The vote on \"{question}\" is open and you are in its electorate.{until}"
            )],
            Some(("Vote".into(), url.into())),
        )
    }
}

/// To a bidding organisation's members: the bid was received, with its hash.
pub fn bid_confirmation(language: &str, name: &str, tender: &str, hash: &str, url: &str) -> Mail {
    if zh(language) {
        render(
            format!("投标已收到 · {tender}"),
            format!("{name}，您好："),
            vec![
                format!("贵机构对「{tender}」的投标已密封保存，截止前任何人都无法查看。"),
                format!("投标文件摘要（SHA-256）：{hash}"),
            ],
            Some(("查看项目".into(), url.into())),
        )
    } else {
        render(
            format!("Bid received · {tender}"),
            format!("Hello {name},"),
            vec![
                format!(
                    "Your organisation's bid for \"{tender}\" is sealed; nobody can read it before the deadline."
                ),
                format!("Bid digest (SHA-256): {hash}"),
            ],
            Some(("See the tender".into(), url.into())),
        )
    }
}

/// To every bidder: the tender was decided.
pub fn award_outcome(
    language: &str,
    name: &str,
    tender: &str,
    won: bool,
    winner: &str,
    scores: &str,
    url: &str,
) -> Mail {
    if zh(language) {
        render(
            format!("评审结果 · {tender}"),
            format!("{name}，您好："),
            vec![
                if won {
                    format!("贵机构在「{tender}」中标。公示期已满，采购人将与贵机构签订服务合同。")
                } else {
                    format!("「{tender}」的中标机构为{winner}。感谢贵机构参与。")
                },
                format!("贵机构的评审结果（名次 · 总分 = 价格分 + 质量分）：{scores}"),
            ],
            Some(("查看结果".into(), url.into())),
        )
    } else {
        render(
            format!("Award · {tender}"),
            format!("Hello {name},"),
            vec![
                if won {
                    format!(
                        "Your organisation won \"{tender}\". The publicity period is over; the buyer will sign the contract with you."
                    )
                } else {
                    format!("\"{tender}\" was awarded to {winner}. Thank you for bidding.")
                },
                format!("Your result (rank · total = price points + quality points): {scores}"),
            ],
            Some(("See the result".into(), url.into())),
        )
    }
}

/// To a bidder: the tender it bid for was cancelled.
pub fn tender_cancelled(language: &str, name: &str, tender: &str, reason: &str, url: &str) -> Mail {
    if zh(language) {
        render(
            format!("项目取消 · {tender}"),
            format!("{name}，您好："),
            vec![
                format!("贵机构投标的「{tender}」已由采购人取消，投标不再开启评审。"),
                format!("取消理由：{reason}"),
            ],
            Some(("查看项目".into(), url.into())),
        )
    } else {
        render(
            format!("Tender cancelled · {tender}"),
            format!("Hello {name},"),
            vec![
                format!(
                    "\"{tender}\", which your organisation bid for, has been cancelled by the buyer; the bids will not be evaluated."
                ),
                format!("Reason: {reason}"),
            ],
            Some(("See the tender".into(), url.into())),
        )
    }
}

/// To a bidder: its complaint about the proposed award was answered.
pub fn complaint_answered(
    language: &str,
    name: &str,
    tender: &str,
    upheld: bool,
    answer: &str,
    url: &str,
) -> Mail {
    if zh(language) {
        render(
            format!("质疑答复 · {tender}"),
            format!("{name}，您好："),
            vec![
                format!(
                    "贵机构对「{tender}」拟授予结果提出的质疑，采购人的答复：{}。",
                    if upheld {
                        "质疑成立，拟授予结果已撤销"
                    } else {
                        "质疑不成立，维持拟授予结果"
                    }
                ),
                answer.to_string(),
            ],
            Some(("查看项目".into(), url.into())),
        )
    } else {
        render(
            format!("Your complaint · {tender}"),
            format!("Hello {name},"),
            vec![
                format!(
                    "The buyer has answered your organisation's complaint about the proposed award of \"{tender}\": {}.",
                    if upheld {
                        "upheld; the proposed award is withdrawn"
                    } else {
                        "dismissed; the proposed award stands"
                    }
                ),
                answer.to_string(),
            ],
            Some(("See the tender".into(), url.into())),
        )
    }
}

/// To the contractor: a milestone was accepted or rejected.
pub fn milestone_decision(
    language: &str,
    name: &str,
    contract: &str,
    milestone: &str,
    accepted: bool,
    reason: &str,
    url: &str,
) -> Mail {
    if zh(language) {
        render(
            format!("节点验收 · {contract}"),
            format!("{name}，您好："),
            vec![
                format!(
                    "合同「{contract}」的节点「{milestone}」{}。",
                    if accepted {
                        "已通过验收"
                    } else {
                        "未通过验收"
                    }
                ),
                reason.to_string(),
            ],
            Some(("查看合同".into(), url.into())),
        )
    } else {
        render(
            format!("Milestone · {contract}"),
            format!("Hello {name},"),
            vec![
                format!(
                    "The milestone \"{milestone}\" of \"{contract}\" was {}.",
                    if accepted { "accepted" } else { "not accepted" }
                ),
                reason.to_string(),
            ],
            Some(("See the contract".into(), url.into())),
        )
    }
}

/// The daily digest: one line per notification, newest last.
pub fn digest(
    language: &str,
    name: &str,
    day: &str,
    items: &[(String, String, Option<String>)],
    preferences_url: &str,
) -> Mail {
    let lines: Vec<String> = items
        .iter()
        .map(|(title, body, link)| match link {
            Some(l) => format!("• {title}\n{body}\n{l}"),
            None => format!("• {title}\n{body}"),
        })
        .collect();
    if zh(language) {
        let mut all = vec![format!("以下是 {day} 的 {} 条动态：", items.len())];
        all.extend(lines);
        render(
            format!("每日摘要 · {day} · {} 条", items.len()),
            format!("{name}，您好："),
            all,
            Some(("调整通知设置".into(), preferences_url.into())),
        )
    } else {
        let mut all = vec![format!("{} updates for {day}:", items.len())];
        all.extend(lines);
        render(
            format!("Daily digest · {day} · {}", items.len()),
            format!("Hello {name},"),
            all,
            Some(("Notification settings".into(), preferences_url.into())),
        )
    }
}

/// To the attendees: the minutes (the record itself is in Chinese, the record's language).
pub fn session_minutes(language: &str, title: &str, document: &str, url: &str) -> Mail {
    let esc = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let (subject, summary) = if zh(language) {
        (
            format!("会议纪要 · {title}"),
            format!("「{title}」的会议纪要已生成。"),
        )
    } else {
        (
            format!("Minutes · {title}"),
            format!("The minutes of \"{title}\" are ready (in Chinese, the record's language)."),
        )
    };
    Mail {
        subject,
        text: format!("{summary}\n\n{document}\n{url}\n"),
        html: format!(
            "<!doctype html><html><body><p>{}</p><pre style=\"font-family:sans-serif;white-space:pre-wrap\">{}</pre><p><a href=\"{}\">{}</a></p></body></html>",
            esc(&summary),
            esc(document),
            esc(url),
            esc(url)
        ),
        ics: None,
        summary,
        link: Some(url.to_string()),
    }
}

/// To the officers: today's head of the tamper-evident record, to keep outside the platform.
pub fn audit_head(
    language: &str,
    name: &str,
    day: &str,
    entries: i64,
    head: &str,
    url: &str,
) -> Mail {
    if zh(language) {
        render(
            format!("操作记录指纹 {day} · 议事厅"),
            format!("{name}，您好："),
            vec![
                format!(
                    "这是 {day} 平台操作记录（共 {entries} 条）的指纹。请保存本邮件：日后用 yishi audit verify --against 核对，若有人改写了此前的记录，核对就会失败。"
                ),
                head.to_string(),
            ],
            Some(("公开公示栏".into(), url.into())),
        )
    } else {
        render(
            format!("Record fingerprint {day} · Yishi"),
            format!("Hello {name},"),
            vec![
                format!(
                    "This is the fingerprint of the platform's record of changes on {day} ({entries} entries). Keep this message: checked later with yishi audit verify --against, it fails if anyone rewrote the record before it."
                ),
                head.to_string(),
            ],
            Some(("Public board".into(), url.into())),
        )
    }
}

/// To a person whose password someone keeps getting wrong: sign-in from new devices is now
/// slowed down; their own devices are not.
pub fn sign_in_failures(language: &str, name: &str, failures: u32, url: &str) -> Mail {
    if zh(language) {
        render(
            "有人多次登录您的账号未成功 · 议事厅".into(),
            format!("{name}，您好："),
            vec![
                format!("刚才有人连续 {failures} 次用错误的密码登录您的议事厅账号。为保护账号，从新设备登录现在需要稍等片刻再试；您以前登录过的设备不受影响。"),
                "如果是您本人忘记了密码，可以用下面的链接重设。如果不是您，密码足够长就不必担心；也可以重设一个新密码。".into(),
            ],
            Some(("重设密码".into(), url.into())),
        )
    } else {
        render(
            "Failed attempts to sign in to your account · Yishi".into(),
            format!("Hello {name},"),
            vec![
                format!("Someone just tried {failures} times in a row to sign in to your Yishi account with a wrong password. To protect the account, signing in from a new device now has to wait a little between attempts; devices you have signed in on before are not affected."),
                "If it was you and you forgot your password, reset it with the link below. If it was not you, a long password keeps you safe; you may also set a new one.".into(),
            ],
            Some(("Reset password".into(), url.into())),
        )
    }
}
