"""UI strings of the document management app."""
STRINGS = {
    "vi": {
        "incoming": "Văn bản đến", "outgoing": "Văn bản đi", "new_document": "Tạo văn bản",
        "number": "Số, ký hiệu", "title": "Trích yếu", "summary": "Nội dung tóm tắt", "counterpart": "Nơi gửi / nơi nhận",
        "direction": "Loại", "status": "Trạng thái", "draft": "Chờ ký duyệt", "signed": "Đã ký duyệt",
        "sign_off": "Ký duyệt", "created_by": "Người tạo", "signed_by": "Người ký", "no_documents": "Chưa có văn bản.",
        "created": "Đã tạo văn bản.", "signed_ok": "Đã ký duyệt văn bản.", "already_signed": "Văn bản đã được ký duyệt.",
        "missing_fields": "Cần nhập số, ký hiệu và trích yếu.", "no_department": "Tài khoản chưa gắn với đơn vị nào.",
    },
    "en": {
        "incoming": "Incoming", "outgoing": "Outgoing", "new_document": "New document",
        "number": "Number", "title": "Subject", "summary": "Summary", "counterpart": "From / to",
        "direction": "Type", "status": "Status", "draft": "Awaiting sign-off", "signed": "Signed off",
        "sign_off": "Sign off", "created_by": "Created by", "signed_by": "Signed by", "no_documents": "No documents yet.",
        "created": "Document created.", "signed_ok": "Document signed off.", "already_signed": "Already signed off.",
        "missing_fields": "Number and subject are required.", "no_department": "Your account has no department.",
    },
}
