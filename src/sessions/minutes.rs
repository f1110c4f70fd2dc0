//! Minutes (纪要) of a session, folded from its persisted room events: attendance by group, the
//! agenda, who spoke on which item and for how long, the chat the chair marked.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::error::SessionsError as E;
use super::model::*;
use crate::entities::{agenda_item, place, poll, resolution, session, user};
use crate::sessions::events;
use crate::voting::counting::{Outcome, PollOption};

async fn votes<C: ConnectionTrait>(db: &C, session_id: Uuid) -> Result<Vec<MinutesVote>, E> {
    let polls = poll::Entity::find()
        .filter(poll::Column::SessionId.eq(session_id))
        .order_by_asc(poll::Column::CreatedAt)
        .all(db)
        .await?;
    Ok(polls
        .into_iter()
        .map(|p| {
            let result: Option<Outcome> = crate::voting::disclosure::published_result(&p);
            let options: Vec<PollOption> = serde_json::from_str(&p.options).unwrap_or_default();
            let counts = result
                .as_ref()
                .map(|r| {
                    r.options
                        .iter()
                        .map(|o| {
                            let label = options
                                .iter()
                                .find(|x| x.id == o.id)
                                .map_or(o.id.as_str(), |x| x.label.as_str());
                            if r.electorate.area_centi > 0 {
                                format!(
                                    "{label}: {} ({}.{:02} m²)",
                                    o.headcount,
                                    o.area_centi / 100,
                                    o.area_centi % 100
                                )
                            } else {
                                format!("{label}: {}", o.headcount)
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            MinutesVote {
                poll_id: p.id,
                agenda_item_id: p.agenda_item_id,
                question: p.question,
                secret: p.secret,
                status: p.status,
                electorate: result.as_ref().map(|r| r.electorate.headcount),
                participants: result.as_ref().map(|r| r.participants.headcount),
                passed: p.passed,
                counts,
            }
        })
        .collect())
}

/// Resolutions from this session, directly or through its polls. Drafts are left out: the
/// minutes record what was adopted.
async fn resolutions<C: ConnectionTrait>(
    db: &C,
    session_id: Uuid,
) -> Result<Vec<MinutesResolution>, E> {
    Ok(resolution::Entity::find()
        .filter(resolution::Column::SessionId.eq(session_id))
        .filter(resolution::Column::Status.is_not_in(["draft", "in_review", "approved"]))
        .order_by_asc(resolution::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|r| MinutesResolution {
            resolution_id: r.id,
            agenda_item_id: r.agenda_item_id,
            title: r.title,
            origin: r.origin,
            status: r.status,
            deadline: r.deadline,
        })
        .collect())
}

pub async fn build<C: ConnectionTrait>(
    db: &C,
    s: &session::Model,
    with_names: bool,
) -> Result<Minutes, E> {
    let agenda = agenda_item::Entity::find()
        .filter(agenda_item::Column::SessionId.eq(s.id))
        .order_by_asc(agenda_item::Column::Position)
        .all(db)
        .await?;
    let mut items: Vec<MinutesItem> = agenda
        .iter()
        .map(|a| MinutesItem {
            position: a.position,
            title: a.title.clone(),
            proposal_id: a.proposal_id,
            speeches: vec![],
            chat_messages: 0,
            marked_chat: vec![],
        })
        .collect();
    let index: HashMap<Uuid, usize> = agenda.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
    let mut current: Option<usize> = if items.is_empty() { None } else { Some(0) };
    let mut speaking: Option<(String, DateTime<Utc>, Option<usize>)> = None;
    let mut chat: HashMap<i64, (Option<usize>, String, String)> = HashMap::new();
    let mut after = 0;
    let end_speech = |speaking: &mut Option<(String, DateTime<Utc>, Option<usize>)>,
                      at: DateTime<Utc>,
                      items: &mut Vec<MinutesItem>| {
        if let Some((name, from, item)) = speaking.take()
            && let Some(i) = item
        {
            items[i].speeches.push(MinutesSpeech {
                speaker: with_names.then_some(name),
                seconds: (at - from).num_seconds().max(0),
            });
        }
    };
    loop {
        let batch = events::after(db, s.id, after, 2000).await?;
        let Some(last) = batch.last() else { break };
        after = last.seq;
        for e in batch {
            let p = &e.payload;
            match e.kind.as_str() {
                "item.changed" => {
                    current = p
                        .get("item_id")
                        .and_then(|v| v.as_str())
                        .and_then(|v| v.parse().ok())
                        .and_then(|id: Uuid| index.get(&id).copied());
                }
                "floor.given" => {
                    end_speech(&mut speaking, e.at, &mut items);
                    let name = p
                        .get("name")
                        .and_then(|n| n.as_str())
                        .unwrap_or_default()
                        .to_string();
                    speaking = Some((name, e.at, current));
                }
                "floor.ended" | "session.closed" | "session.adjourned" => {
                    end_speech(&mut speaking, e.at, &mut items)
                }
                "chat.posted" => {
                    let item = p
                        .get("item_id")
                        .and_then(|v| v.as_str())
                        .and_then(|v| v.parse().ok())
                        .and_then(|id: Uuid| index.get(&id).copied())
                        .or(current);
                    if let Some(i) = item {
                        items[i].chat_messages += 1;
                    }
                    let name = p
                        .get("name")
                        .and_then(|n| n.as_str())
                        .unwrap_or_default()
                        .to_string();
                    let text = p
                        .get("text")
                        .and_then(|n| n.as_str())
                        .unwrap_or_default()
                        .to_string();
                    chat.insert(e.seq, (item, name, text));
                }
                "chat.removed" => {
                    if let Some(seq) = p.get("seq").and_then(|v| v.as_i64()) {
                        chat.remove(&seq);
                    }
                }
                "chat.marked" => {
                    if let Some((Some(i), name, text)) = p
                        .get("seq")
                        .and_then(|v| v.as_i64())
                        .and_then(|seq| chat.get(&seq))
                    {
                        items[*i].marked_chat.push(if with_names {
                            format!("{name}: {text}")
                        } else {
                            text.clone()
                        });
                    }
                }
                _ => {}
            }
        }
    }
    let community_name = place::Entity::find_by_id(s.community_id)
        .one(db)
        .await?
        .map(|p| p.name)
        .unwrap_or_default();
    let chair = user::Entity::find_by_id(s.chair_id)
        .one(db)
        .await?
        .map(|u| u.display_name);
    let view = super::service::view(db, None, s.clone()).await?;
    Ok(Minutes {
        session_id: s.id,
        title: s.title.clone(),
        purpose: s.purpose.clone(),
        community_name,
        starts_at: s.starts_at,
        opened_at: s.opened_at,
        closed_at: s.closed_at,
        chair: if with_names { chair } else { None },
        attendance: view.attendance,
        items,
        votes: votes(db, s.id).await?,
        resolutions: resolutions(db, s.id).await?,
    })
}

/// The minutes as a readable Markdown document, in Chinese (the record's language).
pub fn markdown(m: &Minutes) -> String {
    let mut out = format!("# {} 会议纪要\n\n", m.title);
    out.push_str(&format!("- 社区：{}\n", m.community_name));
    out.push_str(&format!(
        "- 召开：{}\n",
        m.opened_at
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "未召开".into())
    ));
    out.push_str(&format!(
        "- 结束：{}\n",
        m.closed_at
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "未结束".into())
    ));
    if let Some(chair) = &m.chair {
        out.push_str(&format!("- 主持人：{chair}\n"));
    }
    out.push_str(&format!(
        "\n## 议题说明\n\n{}\n\n## 出席情况\n\n",
        m.purpose
    ));
    out.push_str(&format!(
        "应邀 {} 人，确认出席 {} 人，线上出席 {} 人，现场登记 {} 人。\n\n| 类别 | 应邀 | 出席 |\n|---|---|---|\n",
        m.attendance.invited, m.attendance.confirmed, m.attendance.present_online, m.attendance.present_assisted
    ));
    for g in &m.attendance.by_group {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            g.group, g.invited, g.present
        ));
    }
    out.push_str("\n## 议程与发言\n");
    for item in &m.items {
        out.push_str(&format!("\n### {}. {}\n\n", item.position, item.title));
        if item.speeches.is_empty() {
            out.push_str("无人发言。\n");
        }
        for (i, sp) in item.speeches.iter().enumerate() {
            let who = sp
                .speaker
                .clone()
                .unwrap_or_else(|| format!("发言人 {}", i + 1));
            out.push_str(&format!(
                "- {who}：{} 分 {} 秒\n",
                sp.seconds / 60,
                sp.seconds % 60
            ));
        }
        out.push_str(&format!("\n讨论区消息 {} 条。\n", item.chat_messages));
        for c in &item.marked_chat {
            out.push_str(&format!("\n> {c}\n"));
        }
    }
    out.push_str("\n## 表决与决议\n\n");
    if m.votes.is_empty() {
        out.push_str("本次会议未进行表决。\n");
    }
    for v in &m.votes {
        let outcome = match v.passed {
            Some(true) => "通过",
            Some(false) => "未通过",
            None => "未完成",
        };
        out.push_str(&format!(
            "- {}（{}{}）：{outcome}",
            v.question,
            if v.secret {
                "无记名投票，"
            } else {
                "记名投票，"
            },
            match (v.participants, v.electorate) {
                (Some(p), Some(e)) => format!("参与 {p} / {e}"),
                _ => "未计票".to_string(),
            }
        ));
        if !v.counts.is_empty() {
            out.push_str(&format!("；{}", v.counts.join("，")));
        }
        out.push('\n');
    }
    for r in &m.resolutions {
        let origin = if r.origin == "consensus" {
            "会议共识"
        } else {
            "表决通过"
        };
        let status = match r.status.as_str() {
            "disclosure" => "公示中",
            "in_progress" => "办理中",
            "overdue" => "已逾期",
            "completed" => "已办结",
            "cancelled" => "已取消",
            "withdrawn" => "已撤回",
            other => other,
        };
        out.push_str(&format!("- 决议：{}（{origin}，{status}", r.title));
        if let Some(d) = &r.deadline {
            out.push_str(&format!("，期限 {d}"));
        }
        out.push_str("）\n");
    }
    out
}
