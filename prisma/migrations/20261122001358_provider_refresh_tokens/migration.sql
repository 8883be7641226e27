-- AlterTable
ALTER TABLE "identities" ADD COLUMN     "refresh_token" TEXT;
