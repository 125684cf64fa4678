// Every string the pages show, in one table: the msgids of the gettext catalogue
// "apppass-web" (po/*.po; xgettext --keyword=N_ extracts them from this file). A page asks
// for a string by its Msg; i18n.h hands out the text in the request's language. "{}"
// stands for a value the page fills in (escaped) with Fill (i18n.h).
// Thread-safety: constants only.
#pragma once

#include <cstddef>

// Marks a msgid for xgettext; the translation happens at start-up (i18n.cc).
#define N_(text) text

namespace apppass::web {

// clang-format off
#define APPPASS_WEB_MESSAGES(M) \
  M(kSiteName, N_("App passwords")) \
  M(kLanguage, N_("Language")) \
  M(kFooter, N_("App passwords for your mail account. Your administrator runs this page.")) \
  M(kNavPasswords, N_("App passwords")) \
  M(kNavSecurity, N_("Security")) \
  M(kSignInTitle, N_("Sign in")) \
  M(kSignInIntro, N_("Sign in with your account and your password.")) \
  M(kUserName, N_("User name")) \
  M(kPassword, N_("Password")) \
  M(kSignInButton, N_("Sign in")) \
  M(kWrongPassword, N_("Wrong user name or password.")) \
  M(kThrottled, N_("Too many attempts. Try again later.")) \
  M(kNoMfa, N_("Your account has no second factor yet and you cannot set one up here: ask your administrator.")) \
  M(kSignInAgain, N_("Your sign-in has expired. Sign in again.")) \
  M(kSessionEnded, N_("Your session has ended. Sign in again.")) \
  M(kSignedOut, N_("You have signed out.")) \
  M(kCodeTitle, N_("Verification code")) \
  M(kCodeIntro, N_("Enter the code from your authenticator app, or one of your recovery codes.")) \
  M(kCodeLabel, N_("Code")) \
  M(kVerify, N_("Verify")) \
  M(kWrongCode, N_("Wrong or reused verification code.")) \
  M(kEnterValue, N_("Fill in this field.")) \
  M(kSetupTitle, N_("Set up verification")) \
  M(kSetupIntro, N_("Your account needs a second way to prove it is you before you can get app passwords.")) \
  M(kMethod, N_("Authentication method")) \
  M(kMethodApp, N_("Authenticator app: a code on your phone that changes every 30 seconds")) \
  M(kSetItUpNow, N_("Set it up now")) \
  M(kScanTitle, N_("Add your account to the app")) \
  M(kScanIntro, N_("Scan this QR code with your authenticator app, or type in the key below.")) \
  M(kKeyLabel, N_("Key, to type in by hand")) \
  M(kQrLabel, N_("QR code for your authenticator app")) \
  M(kConfirmIntro, N_("Then enter the code the app shows, to check that it works.")) \
  M(kNext, N_("Next")) \
  M(kStartAgain, N_("Start again")) \
  M(kRecoveryTitle, N_("Your recovery codes")) \
  M(kRecoveryIntro, N_("If you lose your phone, each of these codes signs you in once. Save them now, somewhere safe: they are shown only this once.")) \
  M(kSavedLabel, N_("I saved them")) \
  M(kContinue, N_("Continue")) \
  M(kPasswordsTitle, N_("Your app passwords")) \
  M(kPasswordsIntro, N_("An app password lets a mail app such as Outlook or Apple Mail sign in to your account. Give each app its own, and revoke it when you stop using the app.")) \
  M(kNoPasswords, N_("You have no app passwords yet.")) \
  M(kColName, N_("Name")) \
  M(kColServices, N_("Services")) \
  M(kColCreated, N_("Created")) \
  M(kColExpires, N_("Expires")) \
  M(kColLastUsed, N_("Last used")) \
  M(kColService, N_("Service")) \
  M(kColFrom, N_("From")) \
  M(kColAction, N_("Action")) \
  M(kNever, N_("never")) \
  M(kNotYet, N_("not yet")) \
  M(kAllServices, N_("all services")) \
  M(kExpired, N_("expired")) \
  M(kRevoke, N_("Revoke")) \
  M(kCreateLink, N_("Create an app password")) \
  M(kRevokeTitle, N_("Revoke this app password?")) \
  M(kRevokeIntro, N_("Apps that use it will no longer be able to sign in. This cannot be undone.")) \
  M(kCancel, N_("Cancel")) \
  M(kRevoked, N_("The app password was revoked.")) \
  M(kRecoveryUsed, N_("You signed in with a recovery code. You can get new ones on the Security page.")) \
  M(kCreateTitle, N_("Create an app password")) \
  M(kNameLabel, N_("Name")) \
  M(kNameHint, N_("Which app or device it is for, for example: Outlook on my laptop.")) \
  M(kServicesLabel, N_("Services it may use")) \
  M(kChooseService, N_("Choose at least one service.")) \
  M(kExpiryLabel, N_("Expires after")) \
  M(kExpiryNever, N_("Never")) \
  M(kDays, N_("{} days")) \
  M(kHours, N_("{} hours")) \
  M(kMinutes, N_("{} minutes")) \
  M(kCreateButton, N_("Create")) \
  M(kNewPasswordTitle, N_("Your new app password")) \
  M(kNewPasswordIntro, N_("Use it in your mail app instead of your account password. It is shown only this once: choose Copy to copy it, so you can paste it into the app (you don't need to memorize it).")) \
  M(kNewPasswordFor, N_("For: {}")) \
  M(kCopy, N_("Copy")) \
  M(kCopied, N_("Copied")) \
  M(kMailSettings, N_("Mail app settings")) \
  M(kIncoming, N_("Incoming mail (IMAP)")) \
  M(kOutgoing, N_("Outgoing mail (SMTP)")) \
  M(kServer, N_("Server")) \
  M(kPort, N_("Port")) \
  M(kEncryption, N_("Encryption")) \
  M(kDone, N_("Done")) \
  M(kAlreadyShownTitle, N_("Already shown")) \
  M(kAlreadyShownText, N_("A new app password is shown only once. If you did not copy it, revoke it and create another.")) \
  M(kSecurityTitle, N_("Security")) \
  M(kRecoveryLeft, N_("Unused recovery codes: {}")) \
  M(kNewRecoveryTitle, N_("New recovery codes")) \
  M(kNewRecoveryIntro, N_("Replaces your recovery codes: the old ones stop working.")) \
  M(kCurrentCode, N_("Current code from your authenticator app")) \
  M(kGetNewCodes, N_("Get new recovery codes")) \
  M(kChangeAppTitle, N_("Change authenticator app")) \
  M(kChangeAppIntro, N_("Set up a new app, for example on a new phone. The old one keeps working until you confirm the new one.")) \
  M(kNewAppCode, N_("Code from the new app")) \
  M(kAppChanged, N_("Your new authenticator app is set up; the old one no longer works.")) \
  M(kSignOut, N_("Sign out")) \
  M(kForbiddenTitle, N_("Refused")) \
  M(kForbiddenText, N_("This form was too old or came from another page. Go back, reload the page and try again.")) \
  M(kNotFoundTitle, N_("Not found")) \
  M(kNotFoundText, N_("There is nothing here, or it is not yours.")) \
  M(kNotAllowedTitle, N_("Not allowed")) \
  M(kNotAllowedText, N_("This address does not accept that kind of request.")) \
  M(kUnavailableTitle, N_("Service unavailable")) \
  M(kUnavailableText, N_("The app password service is not available. Try again later, or ask your administrator.")) \
  M(kErrorTitle, N_("Something went wrong")) \
  M(kErrorText, N_("The request could not be completed. Try again later.")) \
  M(kBackHome, N_("Back to the start"))
// clang-format on

enum class Msg : std::size_t {
#define APPPASS_WEB_ENUM(id, text) id,
  APPPASS_WEB_MESSAGES(APPPASS_WEB_ENUM)
#undef APPPASS_WEB_ENUM
      kCount
};

inline constexpr std::size_t kMessageCount = static_cast<std::size_t>(Msg::kCount);

// The msgids (English), indexed by Msg.
inline constexpr const char* kMsgIds[] = {
#define APPPASS_WEB_TEXT(id, text) text,
    APPPASS_WEB_MESSAGES(APPPASS_WEB_TEXT)
#undef APPPASS_WEB_TEXT
};
static_assert(sizeof(kMsgIds) / sizeof(kMsgIds[0]) == kMessageCount);

}  // namespace apppass::web
