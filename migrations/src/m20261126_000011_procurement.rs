//! Government purchase of services: bidder profiles and qualifications, tenders with award
//! criteria, public enquiries, sealed bids, evaluation panels and scores, complaints during the
//! award's publicity period, contracts with milestones and amendments, and the OCDS releases
//! published for each change.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("bidder_profiles")
                .col(pk_uuid("organisation_id"))
                .col(text("service_areas"))
                .col(text("description"))
                .col(uuid("updated_by"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk(
                    "bidder_profiles",
                    "organisation_id",
                    "organisations",
                ))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("qualifications")
                .col(pk_uuid("id"))
                .col(uuid("organisation_id"))
                .col(string("name"))
                .col(string("issuer"))
                .col(string("number"))
                .col(string("valid_until"))
                .col(uuid("created_by"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "qualifications",
                    "organisation_id",
                    "organisations",
                ))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("tenders")
                .col(pk_uuid("id"))
                .col(uuid("place_id"))
                .col(string("title"))
                .col(text("description"))
                .col(string("category"))
                .col(big_integer("budget_fen"))
                .col(text("eligibility"))
                .col(string_null("required_qualification"))
                .col(string("status"))
                .col(timestamp_with_time_zone("enquiry_ends_at"))
                .col(timestamp_with_time_zone("tender_ends_at"))
                .col(integer("publicity_days"))
                .col(timestamp_with_time_zone_null("published_at"))
                .col(timestamp_with_time_zone_null("opened_at"))
                .col(integer_null("bid_count"))
                .col(uuid_null("award_bid_id"))
                .col(timestamp_with_time_zone_null("award_proposed_at"))
                .col(timestamp_with_time_zone_null("publicity_ends_at"))
                .col(timestamp_with_time_zone_null("awarded_at"))
                .col(timestamp_with_time_zone_null("ended_at"))
                .col(text_null("end_reason"))
                .col(uuid("created_by"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("tenders", "place_id", "places"))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("tender_criteria")
                .col(pk_uuid("id"))
                .col(uuid("tender_id"))
                .col(integer("position"))
                .col(string("name"))
                .col(integer("weight"))
                .col(boolean("price"))
                .foreign_key(&mut fk("tender_criteria", "tender_id", "tenders"))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("tender_resolutions")
                .col(pk_uuid("id"))
                .col(uuid("tender_id"))
                .col(uuid("resolution_id"))
                .foreign_key(&mut fk("tender_resolutions", "tender_id", "tenders"))
                .foreign_key(&mut fk(
                    "tender_resolutions",
                    "resolution_id",
                    "resolutions",
                ))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("procurement_files")
                .col(pk_uuid("id"))
                .col(uuid("tender_id"))
                .col(string("owner_kind"))
                .col(uuid("owner_id"))
                .col(string("file_name"))
                .col(string("content_type"))
                .col(big_integer("size"))
                .col(string("sha256"))
                .col(string("storage_key"))
                .col(uuid("created_by"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("procurement_files", "tender_id", "tenders"))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("enquiries")
                .col(pk_uuid("id"))
                .col(uuid("tender_id"))
                .col(uuid("organisation_id"))
                .col(uuid("asked_by"))
                .col(text("question"))
                .col(text_null("answer"))
                .col(timestamp_with_time_zone_null("answered_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("enquiries", "tender_id", "tenders"))
                .foreign_key(&mut fk("enquiries", "organisation_id", "organisations"))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("bids")
                .col(pk_uuid("id"))
                .col(uuid("tender_id"))
                .col(uuid("organisation_id"))
                .col(uuid("submitted_by"))
                .col(string("status"))
                .col(blob("sealed"))
                .col(string("digest"))
                .col(integer("version"))
                .col(big_integer_null("price_fen"))
                .col(timestamp_with_time_zone("submitted_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("bids", "tender_id", "tenders"))
                .foreign_key(&mut fk("bids", "organisation_id", "organisations"))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("panel_members")
                .col(pk_uuid("id"))
                .col(uuid("tender_id"))
                .col(uuid("user_id"))
                .col(string("status"))
                .col(text_null("declaration"))
                .col(uuid("appointed_by"))
                .col(timestamp_with_time_zone("appointed_at"))
                .col(timestamp_with_time_zone_null("declared_at"))
                .col(timestamp_with_time_zone_null("submitted_at"))
                .foreign_key(&mut fk("panel_members", "tender_id", "tenders"))
                .foreign_key(&mut fk("panel_members", "user_id", "users"))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("bid_scores")
                .col(pk_uuid("id"))
                .col(uuid("tender_id"))
                .col(uuid("panel_member_id"))
                .col(uuid("bid_id"))
                .col(uuid("criterion_id"))
                .col(integer("score"))
                .foreign_key(&mut fk("bid_scores", "tender_id", "tenders"))
                .foreign_key(&mut fk("bid_scores", "panel_member_id", "panel_members"))
                .foreign_key(&mut fk("bid_scores", "bid_id", "bids"))
                .foreign_key(&mut fk("bid_scores", "criterion_id", "tender_criteria"))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("complaints")
                .col(pk_uuid("id"))
                .col(uuid("tender_id"))
                .col(uuid("organisation_id"))
                .col(uuid("lodged_by"))
                .col(text("body"))
                .col(string("status"))
                .col(text_null("answer"))
                .col(uuid_null("answered_by"))
                .col(timestamp_with_time_zone_null("answered_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("complaints", "tender_id", "tenders"))
                .foreign_key(&mut fk("complaints", "organisation_id", "organisations"))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("contracts")
                .col(pk_uuid("id"))
                .col(uuid("tender_id"))
                .col(uuid("organisation_id"))
                .col(uuid("bid_id"))
                .col(string("title"))
                .col(big_integer("value_fen"))
                .col(string("period_start"))
                .col(string("period_end"))
                .col(string("signed_on"))
                .col(string("status"))
                .col(integer("version"))
                .col(text_null("end_reason"))
                .col(integer_null("performance_score"))
                .col(text_null("performance_comment"))
                .col(uuid_null("evaluated_by"))
                .col(timestamp_with_time_zone_null("evaluated_at"))
                .col(uuid("created_by"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("contracts", "tender_id", "tenders"))
                .foreign_key(&mut fk("contracts", "organisation_id", "organisations"))
                .foreign_key(&mut fk("contracts", "bid_id", "bids"))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("contract_milestones")
                .col(pk_uuid("id"))
                .col(uuid("contract_id"))
                .col(integer("position"))
                .col(string("title"))
                .col(text("deliverable"))
                .col(string("due_date"))
                .col(big_integer("amount_fen"))
                .col(string("status"))
                .col(text_null("report"))
                .col(uuid_null("reported_by"))
                .col(timestamp_with_time_zone_null("reported_at"))
                .col(text_null("decision_reason"))
                .col(uuid_null("decided_by"))
                .col(timestamp_with_time_zone_null("decided_at"))
                .col(big_integer_null("paid_fen"))
                .col(timestamp_with_time_zone_null("paid_at"))
                .foreign_key(&mut fk("contract_milestones", "contract_id", "contracts"))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("contract_amendments")
                .col(pk_uuid("id"))
                .col(uuid("contract_id"))
                .col(integer("version"))
                .col(text("reason"))
                .col(text("changes"))
                .col(uuid("created_by"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("contract_amendments", "contract_id", "contracts"))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("ocds_releases")
                .col(pk_uuid("id"))
                .col(uuid("tender_id"))
                .col(string("ocid"))
                .col(string("release_id"))
                .col(string("tag"))
                .col(timestamp_with_time_zone("date"))
                .col(text("data"))
                .foreign_key(&mut fk("ocds_releases", "tender_id", "tenders"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "qualifications",
            "ix_qualifications_org",
            &["organisation_id"],
            false,
        ))
        .await?;
        m.create_index(index("tenders", "ix_tenders_status", &["status"], false))
            .await?;
        m.create_index(index(
            "tenders",
            "ix_tenders_place",
            &["place_id", "created_at"],
            false,
        ))
        .await?;
        m.create_index(index(
            "tender_criteria",
            "ix_tender_criteria_tender",
            &["tender_id", "position"],
            false,
        ))
        .await?;
        m.create_index(index(
            "tender_resolutions",
            "ux_tender_resolutions",
            &["tender_id", "resolution_id"],
            true,
        ))
        .await?;
        m.create_index(index(
            "tender_resolutions",
            "ix_tender_resolutions_resolution",
            &["resolution_id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "procurement_files",
            "ix_procurement_files_owner",
            &["owner_id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "enquiries",
            "ix_enquiries_tender",
            &["tender_id", "created_at"],
            false,
        ))
        .await?;
        m.create_index(index(
            "bids",
            "ux_bids_tender_org",
            &["tender_id", "organisation_id"],
            true,
        ))
        .await?;
        m.create_index(index(
            "panel_members",
            "ux_panel_members",
            &["tender_id", "user_id"],
            true,
        ))
        .await?;
        m.create_index(index(
            "bid_scores",
            "ux_bid_scores",
            &["panel_member_id", "bid_id", "criterion_id"],
            true,
        ))
        .await?;
        m.create_index(index(
            "bid_scores",
            "ix_bid_scores_tender",
            &["tender_id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "complaints",
            "ix_complaints_tender",
            &["tender_id", "created_at"],
            false,
        ))
        .await?;
        m.create_index(index(
            "contracts",
            "ux_contracts_tender",
            &["tender_id"],
            true,
        ))
        .await?;
        m.create_index(index(
            "contracts",
            "ix_contracts_org",
            &["organisation_id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "contract_milestones",
            "ix_contract_milestones",
            &["contract_id", "position"],
            false,
        ))
        .await?;
        m.create_index(index(
            "contract_amendments",
            "ux_contract_amendments",
            &["contract_id", "version"],
            true,
        ))
        .await?;
        m.create_index(index(
            "ocds_releases",
            "ix_ocds_releases_date",
            &["date"],
            false,
        ))
        .await?;
        m.create_index(index(
            "ocds_releases",
            "ix_ocds_releases_ocid",
            &["ocid", "date"],
            false,
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("ocds_releases").to_owned())
            .await?;
        m.drop_table(Table::drop().table("contract_amendments").to_owned())
            .await?;
        m.drop_table(Table::drop().table("contract_milestones").to_owned())
            .await?;
        m.drop_table(Table::drop().table("contracts").to_owned())
            .await?;
        m.drop_table(Table::drop().table("complaints").to_owned())
            .await?;
        m.drop_table(Table::drop().table("bid_scores").to_owned())
            .await?;
        m.drop_table(Table::drop().table("panel_members").to_owned())
            .await?;
        m.drop_table(Table::drop().table("bids").to_owned()).await?;
        m.drop_table(Table::drop().table("enquiries").to_owned())
            .await?;
        m.drop_table(Table::drop().table("procurement_files").to_owned())
            .await?;
        m.drop_table(Table::drop().table("tender_resolutions").to_owned())
            .await?;
        m.drop_table(Table::drop().table("tender_criteria").to_owned())
            .await?;
        m.drop_table(Table::drop().table("tenders").to_owned())
            .await?;
        m.drop_table(Table::drop().table("qualifications").to_owned())
            .await?;
        m.drop_table(Table::drop().table("bidder_profiles").to_owned())
            .await?;
        Ok(())
    }
}
